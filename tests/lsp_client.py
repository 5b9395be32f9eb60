"""A small Language Server Protocol client over stdio, for driving a real language server in tests.

It speaks JSON-RPC 2.0 with ``Content-Length`` framing, answers the requests a server
sends to an editor (``workspace/configuration``, capability registration, progress
tokens), keeps the diagnostics the server publishes, and gives every wait a deadline so
a server that hangs or dies fails the test with its stderr instead of hanging it.

Positions are LSP positions: 0-based lines and UTF-16 code units within the line.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

# The server may take a moment to start Node and load its modules.
DEFAULT_TIMEOUT = 15.0

_METHOD_NOT_FOUND = -32601


class LspError(RuntimeError):
    """The server answered with an error, broke the protocol, exited, or did not answer in time."""


class _ServerExited:
    """Put on the message queue when the server's stdout closes."""


class LspClient:
    """One language server process and the editor side of its conversation.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with LspClient(["node", "server.js", "--stdio"], settings={"yaml": {...}}) as client:
            client.initialize(root)
            client.open(path.as_uri(), path.read_text())
            diagnostics = client.wait_for_diagnostics(path.as_uri())
    """

    def __init__(
        self,
        command: Sequence[str | os.PathLike[str]],
        *,
        settings: Mapping[str, Any] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.command = [os.fspath(part) for part in command]
        self.settings: JsonObject = dict(settings or {})
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.timeout = timeout

        self._process: subprocess.Popen[bytes] | None = None
        self._inbox: queue.Queue[JsonObject | _ServerExited] = queue.Queue()
        self._ids = itertools.count(1)
        self._responses: dict[int, JsonObject] = {}
        self._write_lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._threads: list[threading.Thread] = []
        # Set once the conversation has failed (timeout, exit, broken pipe): no polite shutdown then.
        self._broken = False

        self.server_capabilities: JsonObject = {}
        self.server_info: JsonObject = {}
        #: The latest ``textDocument/publishDiagnostics`` list per document URI.
        self.diagnostics: dict[str, list[JsonObject]] = {}
        #: ``window/logMessage`` and ``window/showMessage`` texts, oldest first.
        self.log: list[str] = []
        #: Sections the server asked for with ``workspace/configuration``.
        self.configuration_requests: list[str | None] = []
        self._open_documents: set[str] = set()
        self._workspace_folders: list[JsonObject] | None = None

    # -- process ---------------------------------------------------------------------------

    def start(self) -> LspClient:
        if self._process is not None:
            raise LspError("the server is already running")
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                env=self.env,
            )
        except OSError as error:
            raise LspError(f"cannot start {self.command!r}: {error}") from error
        self._spawn(self._read_stdout, "lsp-stdout")
        self._spawn(self._read_stderr, "lsp-stderr")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to shut down and exit; kill it if it does not."""
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None and not self._broken:
                with contextlib.suppress(LspError, OSError):
                    self.request("shutdown", None, timeout=timeout)
                with contextlib.suppress(LspError, OSError):
                    self.notify("exit", None)
            try:
                process.wait(timeout=0 if self._broken else timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        finally:
            # The readers stop at end of file once the process is gone; close the pipes after them.
            for thread in self._threads:
                thread.join(timeout=timeout)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            self._process = None

    def __enter__(self) -> LspClient:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stderr_tail(self) -> str:
        return "".join(self._stderr_tail)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- framing ---------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout
        try:
            while True:
                headers: dict[str, str] = {}
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.rstrip(b"\r\n")
                    if not line:
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "content-length" not in headers:
                    self._stderr_tail.append(f"[client] header block without Content-Length: {headers}\n")
                    return
                body = stream.read(int(headers["content-length"]))
                try:
                    message = json.loads(body.decode("utf-8"))
                except ValueError:
                    self._stderr_tail.append(f"[client] unparsable message body: {body[:200]!r}\n")
                    return
                self._inbox.put(message)
        except (OSError, ValueError) as error:
            self._stderr_tail.append(f"[client] reading the server's stdout failed: {error}\n")
        finally:
            self._inbox.put(_ServerExited())

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            for raw in self._process.stderr:
                self._stderr_tail.append(raw.decode("utf-8", "replace"))

    def _send(self, message: JsonObject) -> None:
        if self._process is None or self._process.stdin is None:
            raise LspError("the server is not running")
        body = json.dumps({"jsonrpc": "2.0", **message}, ensure_ascii=False).encode("utf-8")
        frame = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        with self._write_lock:
            try:
                self._process.stdin.write(frame)
                self._process.stdin.flush()
            except OSError as error:
                raise self._failure(f"cannot write to the server: {error}") from error

    # -- JSON-RPC ----------------------------------------------------------------------------

    def notify(self, method: str, params: Any) -> None:
        message: JsonObject = {"method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def request(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Send a request and return its result, handling whatever else arrives meanwhile."""
        request_id = next(self._ids)
        message: JsonObject = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        self._pump(lambda: request_id in self._responses, f"the answer to {method}", timeout)
        response = self._responses.pop(request_id)
        if "error" in response:
            error = response["error"]
            raise LspError(f"{method} failed: {error.get('code')} {error.get('message')}")
        return response.get("result")

    def wait_until(self, condition: Callable[[], bool], what: str, *, timeout: float | None = None) -> None:
        """Handle incoming messages until ``condition()`` holds."""
        self._pump(condition, what, timeout)

    def _pump(self, condition: Callable[[], bool], what: str, timeout: float | None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(f"timed out waiting for {what}")
            try:
                message = self._inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            if isinstance(message, _ServerExited):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    if self._process is not None:
                        self._process.wait(timeout=2)
                raise self._failure(f"the server's output ended while waiting for {what}")
            self._dispatch(message)

    def _dispatch(self, message: JsonObject) -> None:
        method = message.get("method")
        if method is None:
            if isinstance(message.get("id"), int):
                self._responses[message["id"]] = message
            return
        params = message.get("params") or {}
        if "id" in message:
            self._answer(message["id"], method, params)
        elif method == "textDocument/publishDiagnostics":
            self.diagnostics[params["uri"]] = list(params.get("diagnostics", []))
        elif method in ("window/logMessage", "window/showMessage"):
            self.log.append(str(params.get("message", "")))

    def _answer(self, request_id: Any, method: str, params: Any) -> None:
        if method == "workspace/configuration":
            items = params.get("items", [])
            self.configuration_requests.extend(item.get("section") for item in items)
            result: Any = [self._setting(item.get("section")) for item in items]
        elif method in (
            "client/registerCapability",
            "client/unregisterCapability",
            "window/workDoneProgress/create",
            "workspace/semanticTokens/refresh",
            "workspace/codeLens/refresh",
            "workspace/diagnostic/refresh",
        ):
            result = None
        elif method == "workspace/workspaceFolders":
            result = self._workspace_folders
        else:
            self._send(
                {"id": request_id, "error": {"code": _METHOD_NOT_FOUND, "message": f"unhandled {method}"}}
            )
            return
        self._send({"id": request_id, "result": result})

    def _setting(self, section: str | None) -> Any:
        """The settings value at a dotted section such as ``yaml`` or ``yaml.format``; None if unset."""
        if not section:
            return self.settings
        value: Any = self.settings
        for part in section.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value

    def _failure(self, what: str) -> LspError:
        self._broken = True
        code = self.returncode
        status = "running" if code is None else f"exit status {code}"
        tail = self.stderr_tail().strip() or "(no stderr)"
        return LspError(f"{what} ({' '.join(self.command)}; {status})\n--- server stderr ---\n{tail}")

    # -- the editor side of the protocol ---------------------------------------------------------

    def initialize(self, root: Path, *, timeout: float | None = None) -> JsonObject:
        """``initialize`` + ``initialized``, then push :attr:`settings` as an editor does."""
        root_uri = root.resolve().as_uri()
        self._workspace_folders = [{"uri": root_uri, "name": root.name}]
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "ombuds-tests"},
                "rootUri": root_uri,
                "workspaceFolders": self._workspace_folders,
                "capabilities": {
                    "workspace": {"configuration": True, "workspaceFolders": True},
                    "textDocument": {
                        "synchronization": {"dynamicRegistration": False},
                        "publishDiagnostics": {"relatedInformation": True},
                        "completion": {
                            "completionItem": {
                                "snippetSupport": True,
                                "documentationFormat": ["markdown", "plaintext"],
                            }
                        },
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                    },
                },
            },
            timeout=timeout,
        )
        if not isinstance(result, dict):
            raise self._failure(f"initialize answered {result!r}")
        self.server_capabilities = result.get("capabilities", {})
        self.server_info = result.get("serverInfo", {})
        self.notify("initialized", {})
        self.change_configuration(timeout=timeout)
        return result

    def change_configuration(self, *, timeout: float | None = None) -> None:
        """Send ``workspace/didChangeConfiguration`` with :attr:`settings`.

        Servers that pull their settings answer by asking for them with
        ``workspace/configuration``; wait until every top-level section has been pulled
        so that documents opened afterwards are handled with these settings.
        """
        asked_before = len(self.configuration_requests)
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})
        wanted = set(self.settings)
        self.wait_until(
            lambda: wanted <= set(self.configuration_requests[asked_before:]),
            f"the server to pull the settings {sorted(wanted)}",
            timeout=timeout,
        )

    def open(self, uri: str, text: str, language_id: str = "yaml") -> None:
        """``textDocument/didOpen``.

        Each URI is opened once per server: the client does not close documents, so the
        first diagnostics published for a URI always belong to the text opened here.
        """
        if uri in self._open_documents:
            raise LspError(f"{uri} is already open")
        self._open_documents.add(uri)
        self.diagnostics.pop(uri, None)
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language_id, "version": 1, "text": text}},
        )

    def is_open(self, uri: str) -> bool:
        return uri in self._open_documents

    def wait_for_diagnostics(self, uri: str, *, timeout: float | None = None) -> list[JsonObject]:
        """The first diagnostics the server publishes for ``uri`` after it was opened."""
        self.wait_until(lambda: uri in self.diagnostics, f"diagnostics for {uri}", timeout=timeout)
        return self.diagnostics[uri]

    def completion(
        self, uri: str, line: int, character: int, *, timeout: float | None = None
    ) -> list[JsonObject]:
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
            timeout=timeout,
        )
        if result is None:
            return []
        if isinstance(result, dict):  # a CompletionList
            return list(result.get("items", []))
        return list(result)

    def hover(self, uri: str, line: int, character: int, *, timeout: float | None = None) -> str:
        """The hover text at a position, as plain markdown; empty if there is none."""
        result = self.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
            timeout=timeout,
        )
        return "" if result is None else _hover_text(result.get("contents"))


def _hover_text(contents: Any) -> str:
    """Flatten the three shapes of ``Hover.contents`` into one string."""
    if contents is None:
        return ""
    if isinstance(contents, str):
        return contents
    if isinstance(contents, list):
        return "\n\n".join(_hover_text(part) for part in contents)
    return str(contents.get("value", ""))
