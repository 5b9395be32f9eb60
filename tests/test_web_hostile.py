"""The pages against hand-made requests: whatever a form, a cookie or an address carries, the
answer is a page (never a 500, never a traceback), and nothing is done without the form's token."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ombuds.engine.api import create_app
from ombuds.engine.settings import Settings
from ombuds.engine.web.links import Links

from .workflow_support import ROOT

KEY = b"h" * 32
NASTY = ["é", "²", "\x00", "١٢٣", "9" * 5000, "-1", "<script>alert(1)</script>", "' OR 1=1 --", "%00", " "]


def client(home: Path) -> httpx.AsyncClient:
    async def unreachable() -> Any:
        raise ConnectionRefusedError("no Temporal here")

    app = create_app(Settings(home=home, policies=ROOT / "policies"), connect=unreachable, key=KEY)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


def link(home: Path, use: str = "status") -> str:
    return Links.of(home, "http://127.0.0.1").url("C-1", use).removeprefix("http://127.0.0.1")  # type: ignore[arg-type]


async def answers(http: httpx.AsyncClient, method: str, path: str, **options: Any) -> httpx.Response:
    answer = await http.request(method, path, **options)
    assert answer.status_code < 500 or answer.status_code == 503, (
        path,
        answer.status_code,
        answer.text[:300],
    )
    assert "Traceback" not in answer.text
    return answer


@pytest.mark.parametrize("value", NASTY)
async def test_hand_made_form_values_get_a_page(tmp_path: Path, value: str) -> None:
    async with client(tmp_path) as http:
        status = link(tmp_path)
        for path, fields in (
            ("/console/sign-in", {"csrf": value, "token": value}),
            (
                "/complain",
                {"token": value, "description": value, "email": value, "incident": value, "amount": value},
            ),
            ("/complain", {"token": f"1.{value}"}),
            (f"{status}/reply", {"csrf": value, "text": value}),
            (f"{status}/withdraw", {"csrf": value, "confirm": value}),
            (f"{status}/nothing", {"csrf": value}),
            (f"{link(tmp_path, 'survey')}", {"csrf": value, "q0": value}),
        ):
            cookie = f"ombuds_sign_in={value}; ombuds_staff={value}".encode()
            await answers(http, "POST", path, data=fields, headers={"Cookie": cookie})
        quoted = urllib.parse.quote(value, safe="")
        await answers(http, "GET", f"/console/sign-in/callback?state={quoted}&code={quoted}")
        await answers(http, "GET", f"/my/{quoted}")
        await answers(http, "GET", "/console", headers={"Cookie": f"ombuds_staff={value}".encode()})


async def test_a_forged_form_token_does_nothing_and_a_valid_link_to_no_case_is_a_page(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        answer = await answers(http, "POST", f"{link(tmp_path)}/reply", data={"text": "hello"})
        assert answer.status_code in (409, 503)  # refused, or the case cannot be reached: a page either way
        assert "<html" in answer.text
        not_a_form = await answers(
            http,
            "POST",
            f"{link(tmp_path)}/reply",
            content=b'{"text": "x"}',
            headers={"Content-Type": "application/json"},
        )
        assert not_a_form.status_code == 400
        big = await answers(http, "POST", "/complain", data={"description": "x" * 200_000})
        assert big.status_code == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(["csrf", "token", "text", "q0", "option", "confirm", "lang", "description"]),
        st.text(max_size=50),
        max_size=6,
    )
)
async def test_fuzzed_forms_never_make_a_500(tmp_path: Path, fields: dict[str, str]) -> None:
    async with client(tmp_path) as http:
        for path in (
            "/complain",
            "/console/sign-in",
            f"{link(tmp_path)}/reply",
            f"{link(tmp_path, 'survey')}",
        ):
            await answers(http, "POST", path, data=fields)


def test_link_tokens_never_reach_the_access_log() -> None:
    import logging

    from ombuds.engine.web.links import HiddenLinks

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/my/eyJ.abc.def/survey?lang=de", "1.1", 200),
        None,
    )
    HiddenLinks().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /my/…/survey?lang=de HTTP/1.1" 200'


def test_the_language_links_of_a_page_after_a_form_lead_to_the_page_not_the_form() -> None:
    from ombuds.engine.web.pages import page_of

    assert page_of("/my/abc.def.ghi/reply") == "/my/abc.def.ghi"
    assert page_of("/my/abc.def.ghi/survey") == "/my/abc.def.ghi/survey"
    assert page_of("/console/cases/C-1/events/resolve") == "/console/cases/C-1"
    assert page_of("/complain") == "/complain"


def test_the_keys_are_read_again_only_after_a_rotation(tmp_path: Path) -> None:
    from ombuds.engine.web.links import current, rotate

    first = current(tmp_path, "http://example")
    assert current(tmp_path, "http://example") is first  # not read again for every page
    rotate(tmp_path)
    after = current(tmp_path, "http://example")
    assert after is not first and len(after.keys) == len(first.keys) + 1
