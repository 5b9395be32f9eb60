"""The staff console as staff meet it, in Chromium: sign in with a token, the work queue, a case
with its clocks, log and forms, compensation above an agent's limit approved by a supervisor,
refusals (a forged token, a form without its token), the keyboard alone, and German."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import string
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from ombuds.engine import tokens
from ombuds.engine.event_bodies import BODIES, STAFF_KINDS
from ombuds.engine.web.console import _row
from ombuds.engine.web.console_words import TEXTS

from .test_api import started
from .web_support import browser, shot, web

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in(context: BrowserContext, url: str, token: str, lang: str = "en") -> Page:
    """A page of the console after signing in with ``token`` (through the sign-in form)."""
    page = await context.new_page()
    await page.goto(f"{url}/console?lang={lang}")
    assert "/console/sign-in" in page.url  # not signed in yet: sent to sign in
    await page.fill("#token", token)
    await page.press("#token", "Enter")
    await page.wait_for_url(re.compile(r"/console\?lang="))
    return page


async def proposal_status(page: Page, number: int, wanted: str, timeout: float = 30.0) -> str:
    """The status a proposal's row shows, reloading until it says ``wanted``."""
    shown = ""
    for _ in range(int(timeout * 2)):
        row = page.locator("table.proposals tbody tr").nth(number - 1)
        shown = (await row.locator("td.proposal-status").inner_text()).strip()
        if wanted in shown:
            return shown
        await asyncio.sleep(0.5)
        await page.reload()
    return shown


def test_every_text_of_the_console_is_written_in_every_language() -> None:
    from ombuds.engine.web.i18n import LANGUAGES

    english = TEXTS["en"]
    fields = string.Formatter()
    for language in LANGUAGES:
        other = TEXTS[language]
        assert set(english) == set(other), language
        for key, text in english.items():
            assert other[key].strip(), (language, key)
            # the same placeholders in every language, so none fails to format
            named = {name for _, name, _, _ in fields.parse(text) if name}
            assert named == {name for _, name, _, _ in fields.parse(other[key]) if name}, (language, key)
    # every staff event and each of its fields has its words
    for kind in STAFF_KINDS:
        assert f"kind_{kind}" in english, kind
        for name in BODIES[kind].model_fields:
            assert f"field_{name}" in english, (kind, name)


def test_a_queue_row_is_warned_within_a_day_of_its_deadline_and_shows_its_queue() -> None:
    now = dt.datetime(2026, 5, 4, 12, tzinfo=dt.UTC)
    soon = _row({"id": "C-1", "next_deadline": "2026-05-05T11:00:00+00:00", "flags": ["queue:retail"]}, now)
    later = _row(
        {"id": "C-2", "next_deadline": "2026-05-06T12:00:00+00:00", "flags": ["awaiting:supervisor"]}, now
    )
    assert soon["warned"] and soon["queue"] == "retail" and soon["deadline_text"] == "2026-05-05 11:00 UTC"
    assert not later["warned"] and later["awaiting"] == ["supervisor"]
    assert not _row({"id": "C-3", "next_deadline": None, "flags": []}, now)["warned"]


async def test_an_agent_proposes_above_their_limit_and_a_supervisor_approves_it(tmp_path: Path) -> None:
    async with web(tmp_path) as w, browser() as chromium:
        alice, bob = w.token("alice", "agent"), w.token("bob", "supervisor")
        async with httpx.AsyncClient(base_url=w.url, timeout=60) as http:
            cid = await started(http, bearer(alice))

        agent = await chromium.new_context()
        page = await signed_in(agent, w.url, alice)
        # the cookie is kept on http://127.0.0.1 (a secure context) with every protection
        kept = {c["name"]: c for c in await agent.cookies()}
        cookie = kept["ombuds_staff"]
        assert cookie["secure"] and cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
        # a session of its own, never the token pasted (it lives a month): at most 12 hours
        assert cookie["value"] != alice
        session = tokens.verify(w.key, cookie["value"])
        assert (session.user, session.level) == ("alice", "agent")
        left = dt.datetime.fromisoformat(session.expires) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(hours=11) < left <= dt.timedelta(hours=12)
        await expect(page.locator("nav.who")).to_contain_text("Signed in as alice (agent)")
        await expect(page.locator("table.queue")).to_contain_text(cid)
        await shot(page, "console-queue-agent")

        await page.click(f"text={cid}")
        await expect(page.locator("h1")).to_have_text(f"Complaint {cid}")
        await expect(page.locator("table.clocks")).to_contain_text("final-response")
        await expect(page.locator("table.clocks")).to_contain_text("Europe/London")
        await expect(page.locator("table.log")).to_contain_text("financial-services.yaml:")
        await expect(page.locator("table.messages")).to_contain_text("acknowledgement")
        form = page.locator("#act-propose_compensation")
        await form.locator("summary").click()  # each action's form opens from its title
        # before anything is sent, the form says what the agent may grant and who approves above it
        await expect(form).to_contain_text("up to 50.00 GBP without approval")
        await expect(form).to_contain_text(
            "Above 50.00 GBP up to 250.00 GBP needs approval by Customer Support supervisor (supervisor)"
        )
        await expect(form).to_contain_text("Per-complaint cap 50,000.00 GBP")
        await form.locator("select[name=remedy]").select_option("goodwill")
        await form.locator("input[name=amount]").fill("120")
        await shot(page, "console-case-agent-proposing")
        await form.locator("button[type=submit]").click()
        await expect(page.locator(".notice")).to_have_text(
            "Compensation needs approval by Customer Support supervisor (supervisor)."
        )
        assert "needs approval by" in await proposal_status(page, 1, "needs approval by")
        # the agent cannot approve it
        assert await page.locator("form.approval").count() == 0
        await shot(page, "console-case-agent-proposed")

        supervisor = await chromium.new_context()
        page = await signed_in(supervisor, w.url, bob)
        await page.check("#f-awaiting")
        await page.click("text=Show")
        await expect(page.locator("table.queue")).to_contain_text(cid)
        await expect(page.locator("table.queue")).to_contain_text("awaiting supervisor")
        await shot(page, "console-queue-awaiting-supervisor")
        await page.click(f"text={cid}")
        approval = page.locator("form.approval")
        await expect(approval).to_contain_text(
            "Proposal 1: Goodwill payment, 120.00 GBP, proposed by staff:alice@agent"
        )
        await approval.locator("input[name=reason]").fill("Long wait on the phone")
        await approval.locator("button", has_text="Approve").click()
        await expect(page.locator(".notice")).to_have_text(
            re.compile(r"^(Compensation granted|Granted, now being checked)")
        )
        assert "granted" in await proposal_status(page, 1, "granted")
        await expect(page.locator("table.log")).to_contain_text("compensation granted")
        await shot(page, "console-case-supervisor-granted")


async def test_a_forged_token_and_a_form_without_its_token_are_refused(tmp_path: Path) -> None:
    async with web(tmp_path) as w, browser() as chromium:
        alice = w.token("alice", "agent")
        async with httpx.AsyncClient(base_url=w.url, timeout=60) as http:
            cid = await started(http, bearer(alice))
            # a page without a sign-in goes to the sign-in form
            away = await http.get(f"/console/cases/{cid}")
            assert away.status_code == 303 and away.headers["location"].startswith("/console/sign-in")

            context = await chromium.new_context()
            page = await context.new_page()
            await page.goto(f"{w.url}/console/sign-in")
            forged = tokens.create(b"f" * 32, "mallory", "management")
            await page.fill("#token", forged)
            async with page.expect_response(re.compile(r"/console/sign-in")) as answered:
                await page.click("button[type=submit]")
            assert (await answered.value).status == 401
            await expect(page.locator(".problems")).to_contain_text("signature does not verify")
            assert not [c for c in await context.cookies() if c["name"] == "ombuds_staff"]
            await shot(page, "console-sign-in-forged")

            # signed in, but a post without the form's token changes nothing
            signed = {"Cookie": f"ombuds_staff={alice}"}
            bare = await http.post(
                f"/console/cases/{cid}/events/agent_reply", data={"text": "Hello"}, headers=signed
            )
            assert bare.status_code == 403 and "The form has expired" in bare.text
            wrong = await http.post(
                f"/console/cases/{cid}/events/agent_reply",
                data={"text": "Hello", "csrf": "0" * 40},
                headers=signed,
            )
            assert wrong.status_code == 403
            log = (await http.get(f"/complaints/{cid}", headers=bearer(alice))).json()["log"]
            assert not [e for e in log if e["action"] == "agent replied"]
            # what the case refuses is shown on its page, never a 500
            case = await http.get(f"/console/cases/{cid}", headers=signed)
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', case.text)
            assert csrf
            unknown = await http.post(
                f"/console/cases/{cid}/events/enter_stage",
                data={"stage": "nowhere", "csrf": csrf[1]},
                headers=signed,
            )
            assert unknown.status_code == 422 and "unknown stage" in unknown.text


async def test_sign_in_and_compensation_work_with_the_keyboard_alone(tmp_path: Path) -> None:
    async with web(tmp_path) as w, browser() as chromium:
        alice = w.token("alice", "agent")
        async with httpx.AsyncClient(base_url=w.url, timeout=60) as http:
            cid = await started(http, bearer(alice))
        page = await (await chromium.new_context()).new_page()
        await page.goto(f"{w.url}/console/sign-in")

        async def tab_to(element_id: str, most: int = 300) -> None:
            for _ in range(most):
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.id") == element_id:
                    # the focus is visible where it is
                    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                    assert outline == "solid", element_id
                    return
            raise AssertionError(f"Tab never reached #{element_id}")

        await tab_to("token")
        await page.keyboard.type(alice)
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/console\?lang="))
        await expect(page.locator("table.queue")).to_contain_text(cid)

        await page.goto(f"{w.url}/console/cases/{cid}")
        await tab_to("act-propose_compensation-summary")
        await page.keyboard.press("Enter")  # the action's form opens
        await tab_to("propose_compensation-remedy")
        await page.keyboard.type("Goodwill")  # a focused select picks the option typed
        assert await page.evaluate("document.activeElement.value") == "goodwill"
        await tab_to("propose_compensation-amount")
        await page.keyboard.type("20")
        await shot(page, "console-keyboard-compensation")
        await page.keyboard.press("Enter")
        await expect(page.locator(".notice")).to_be_visible()
        assert "granted" in await proposal_status(page, 1, "granted")


async def test_the_console_speaks_german(tmp_path: Path) -> None:
    async with web(tmp_path) as w, browser() as chromium:
        alice = w.token("alice", "agent")
        async with httpx.AsyncClient(base_url=w.url, timeout=60) as http:
            cid = await started(http, bearer(alice))
        page = await signed_in(await chromium.new_context(), w.url, alice, lang="de")
        assert await page.get_attribute("html", "lang") == "de"
        await expect(page.locator("h1")).to_have_text("Arbeitsliste")
        await expect(page.locator("nav.who")).to_contain_text("Angemeldet als alice (agent)")
        await page.click(f"text={cid}")
        await expect(page.locator("h1")).to_have_text(f"Beschwerde {cid}")
        form = page.locator("#act-propose_compensation")
        await form.locator("summary").click()  # each action's form opens from its title
        await expect(form).to_contain_text("Entschädigung vorschlagen")
        await expect(form).to_contain_text(
            "Über 50,00 GBP bis 250,00 GBP braucht die Freigabe von Teamleitung Kundenservice"
        )
        await expect(page.locator("table.log")).to_contain_text("financial-services.yaml:")
        await shot(page, "console-case-german")


async def test_a_rule_line_in_the_log_opens_the_pinned_policy_text(tmp_path: Path) -> None:
    """The policy line of a decision leads to the text the case pinned, that line marked; the
    texts the log refers to by sha256 are shown from the case."""
    async with web(tmp_path) as w, browser() as chromium:
        alice = w.token("alice", "agent")
        async with httpx.AsyncClient(base_url=w.url, timeout=60) as http:
            cid = await started(http, bearer(alice))
            said = await http.post(
                f"/complaints/{cid}/events/agent_reply",
                json={"text": "We are checking the fee with the branch."},
                headers=bearer(alice),
            )
            assert said.status_code == 200, said.text
        page = await signed_in(await chromium.new_context(), w.url, alice)
        await page.goto(f"{w.url}/console/cases/{cid}?lang=en")
        log = page.locator("table.log")
        await expect(log).to_contain_text("text: We are checking the fee with the branch.")
        link = log.locator("a", has_text=re.compile(r"^financial-services\.yaml:9$")).first
        await link.click()
        await page.wait_for_url(re.compile(r"/console/policies/[0-9a-f]{64}\?lang=en#L9$"))
        await expect(page.locator("h1")).to_contain_text("Policy financial-services")
        pinned = (Path(__file__).resolve().parent.parent / "policies" / "financial-services.yaml").read_text()
        line = page.locator("#L9")
        await expect(line).to_contain_text(pinned.splitlines()[8].strip())
        background = await line.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(255, 243, 191)"  # the line the decision points at is marked
        await shot(page, "console-pinned-policy")
        missing = await page.goto(f"{w.url}/console/policies/{'0' * 64}")
        assert missing is not None and missing.status == 404
