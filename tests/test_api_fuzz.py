"""Property tests of the HTTP API from its own OpenAPI document (schemathesis): whatever each
operation is sent, against `ombuds dev` (the dev server, a worker and the API, as a new user
starts them), no answer is a 5xx other than 503 while Temporal cannot be reached.

Events go to a real complaint half of the time, so bodies the schema allows reach the case's own
checks, not only the 404 of an unknown id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ombuds.engine import tokens

from .test_dev_server import free_port
from .workflow_support import ROOT

pytestmark = pytest.mark.integration
OMBUDS = str(Path(sys.executable).parent / "ombuds")


class Served:
    def __init__(self, url: str, headers: dict[str, str], complaint_id: str) -> None:
        self.url = url
        self.headers = headers
        self.complaint_id = complaint_id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {
        **os.environ,
        "OMBUDS_HOME": str(home),
        "OMBUDS_POLICIES": str(ROOT / "policies"),
        "OMBUDS_ADDRESS": f"127.0.0.1:{free_port()}",
        "OMBUDS_UI_PORT": str(free_port()),
        "OMBUDS_API_PORT": str(port),
        "OMBUDS_TASK_QUEUE": "fuzz",
        "OMBUDS_INTAKE_PER_MINUTE": "100000",
    }
    log = open(home / "dev.log", "ab")  # noqa: SIM115 - the process owns it
    dev = subprocess.Popen([OMBUDS, "dev"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (home / "dev.log").read_text()
            time.sleep(0.3)
        admin = (home / "admin.token").read_text().strip()
        headers = {"Authorization": f"Bearer {admin}"}
        from ombuds.engine.files import load_complaint

        body = load_complaint(ROOT / "examples" / "complaints" / "fs-card-fee.yaml").model_dump(
            mode="json", exclude_none=True
        )
        body.pop("id", None)
        made = httpx.post(url + "/complaints?simulated=true", json=body, headers=headers, timeout=30)
        assert made.status_code == 201, made.text
        yield Served(url, headers, made.json()["id"])
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=30)


def test_no_request_the_schema_allows_makes_a_server_error(served: Served) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # every staff event kind has its own

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: Any) -> None:
            if "complaint_id" in (case.path_parameters or {}) and zlib.crc32(repr(case.body).encode()) % 2:
                case.path_parameters["complaint_id"] = served.complaint_id
            response = case.call(base_url=served.url, headers=served.headers, timeout=30)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.body,
                response.status_code,
                response.text[:500],
            )

        no_server_error()


def test_no_forged_token_gets_past_the_door(served: Served) -> None:
    """A token signed with another secret is 401 on every operation that needs one."""
    forged = {"Authorization": f"Bearer {tokens.create(b'x' * 32, 'admin', 'management')}"}
    paths = ["/me", "/complaints", f"/complaints/{served.complaint_id}"]
    for path in paths:
        assert httpx.get(served.url + path, headers=forged).status_code == 401
    answer = httpx.post(
        served.url + f"/complaints/{served.complaint_id}/events/close", json={}, headers=forged
    )
    assert answer.status_code == 401
