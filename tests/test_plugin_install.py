"""A channel plugin installed from its own folder, as a developer following docs/plugins.md would.

The example plugin (examples/plugins/ombuds-chat-notifier) is installed offline into a fresh
virtualenv that sees the project's packages; ``ombuds plugins`` run there lists it, and a
worker run there delivers a running complaint's staff notification through it to a chat
webhook (a local HTTP server).
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import subprocess
import sys
import sysconfig
import time
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.settings import Settings
from ombuds.workflows.core import Answer, Event

from .conftest import POLICIES, ROOT
from .http_server import serving
from .smtp_server import free_port
from .workflow_support import CUSTOMER, make_complaint

PLUGIN = ROOT / "examples" / "plugins" / "ombuds-chat-notifier"
CLI = "from ombuds.engine.cli import main; main()"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the project's packages and the example plugin installed offline."""
    folder = tmp_path_factory.mktemp("plugin-venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the project's own environment is a virtualenv too: its packages are added as a site dir
    (site / "ombuds-project.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n", "utf-8"
    )
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            PLUGIN,
        ],
        check=True,
        cwd=folder,
    )
    return python


def test_ombuds_plugins_lists_the_installed_plugin(plugin_env: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OMBUDS_HOME": str(tmp_path),
        "OMBUDS_CHANNELS__CHAT__URL": "http://127.0.0.1:9/hook",
    }
    out = subprocess.run(
        [plugin_env, "-c", CLI, "plugins"], capture_output=True, text=True, env=env, check=True
    )
    assert "chat  channels: chat  [configured]" in out.stdout
    assert "delivers to  posts to http://127.0.0.1:9/hook" in out.stdout
    here = subprocess.run([sys.executable, "-c", CLI, "plugins"], capture_output=True, text=True, env=env)
    assert "chat  channels" not in here.stdout  # installed in that environment only


class Hook(http.server.BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[dict[str, object], str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.posts.append((json.loads(body), self.headers["Idempotency-Key"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat_hook() -> Iterator[str]:
    Hook.posts = []
    with serving(Hook) as base:
        yield f"{base}/hooks/complaints"


async def test_a_running_complaint_notifies_staff_through_the_plugin(
    plugin_env: Path, tmp_path: Path, chat_hook: str
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (POLICIES / "financial-services.yaml").read_text("utf-8")
    text = text.replace(
        "    withdrawn: {template: withdrawn}",
        "    withdrawn: {template: withdrawn, to: staff, channels: [chat]}",
    )
    text = text.replace("  dir: templates/financial", f"  dir: {POLICIES / 'templates' / 'financial'}")
    (policies / "financial-services.yaml").write_text(text, "utf-8")
    home = tmp_path / "home"
    settings = Settings(
        address=f"127.0.0.1:{free_port()}",
        home=home,
        policies=policies,
        ui_port=free_port(),
        task_queue="chat",
    )
    home.mkdir()
    (home / "settings.toml").write_text(f'[channels.chat]\nurl = "{chat_hook}"\n', "utf-8")
    env = {
        **os.environ,
        "OMBUDS_ADDRESS": settings.address,
        "OMBUDS_HOME": str(home),
        "OMBUDS_POLICIES": str(policies),
        "OMBUDS_TASK_QUEUE": "chat",
    }
    async with dev_server(settings, search_attributes=False) as client:
        log = open(home / "worker.log", "wb")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [plugin_env, "-c", CLI, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            compiled, report = load_policies(policies)
            assert report.ok, report.render_text()
            intake = Intake(settings, compiled)
            complaint = make_complaint(id="CHAT-1", received_at=dt.datetime.now(dt.UTC).isoformat())
            await intake.submit(client, complaint, search_attributes=False)
            handle = client.get_workflow_handle("CHAT-1")
            event = Event(kind="withdraw", actor=CUSTOMER, reason="sorted out in the branch")
            answer = await handle.execute_update("act", event, result_type=Answer)
            assert answer.status != "refused", answer
            deadline = time.monotonic() + 60
            while not Hook.posts and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=20)
            log.close()
    assert Hook.posts, (home / "worker.log").read_text("utf-8", "replace")[-2000:]
    (post, key), *_ = Hook.posts
    assert key.startswith("CHAT-1:") and post["key"] == key
    assert post["to"] == "level:agent" and "CHAT-1" in str(post["text"])
