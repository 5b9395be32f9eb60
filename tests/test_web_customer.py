"""The customer's pages in headless Chromium: the complaint form, the status page reached from
the acknowledgement in the Maildir, the survey with a low score, and links that are forged,
reused or for another case."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from ombuds.engine.web.links import Links, rotate

from .web_support import Web, browser, link_in, shot, web
from .workflow_support import policy_variant

pytestmark = pytest.mark.integration

SURVEY_AT_ONCE = [
    (
        "    after: 24 hours\n    channel: email\n    template: survey",
        "    after: 0 minutes\n    channel: email\n    template: survey",
    )
]


async def log_of(site: Web, complaint_id: str, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=site.url) as http:
        answer = await http.get(f"/complaints/{complaint_id}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["log"])


async def until_logged(site: Web, complaint_id: str, token: str, action: str) -> list[dict[str, Any]]:
    for _ in range(150):
        log = await log_of(site, complaint_id, token)
        if any(entry["action"] == action for entry in log):
            return log
        await asyncio.sleep(0.2)
    raise AssertionError(f"{action} not logged: {[e['action'] for e in log]}")


async def test_a_customer_complains_follows_the_case_and_answers_the_survey(tmp_path: Path) -> None:
    policies = policy_variant(tmp_path / "policies", "retail.yaml", SURVEY_AT_ONCE)
    async with web(tmp_path / "home", policies) as site, browser() as chromium:
        staff = site.token("sam", "store-manager")
        phone = await chromium.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        tab = await phone.new_page()

        # the complaint form, as on a phone without JavaScript
        await tab.goto(f"{site.url}/complain")
        assert await tab.locator("h1").inner_text() == "Make a complaint"
        await tab.get_by_label("Your name").fill("Ana Novak")
        await tab.get_by_label("Email address").fill("ana@example.org")
        await tab.get_by_label("Subject").fill("The kettle leaks")
        await tab.get_by_label("What happened").fill("The kettle I bought leaks from the base.")
        await tab.get_by_label("Order number").fill("A-1001")
        await shot(tab, "customer-form")
        await tab.get_by_role("button", name="Send my complaint").click()
        assert "Your complaint has reached us" in await tab.locator("h1").inner_text()
        reference = (await tab.locator(".notice").inner_text()).split()[-1].rstrip(".")
        assert reference.startswith("C-") or reference

        # the acknowledgement in the Maildir links to the case's page
        received = await site.mail("received")
        assert "<ana@example.org>" in received["To"]
        status_link = link_in(received)
        assert "ana" not in status_link.lower() and "kettle" not in status_link.lower()
        await tab.goto(status_link)
        page_text = await tab.locator("main").inner_text()
        assert f"Your complaint {reference}" in page_text and "The kettle leaks" in page_text
        assert "What happens next" in page_text and "We plan to have it solved by" in page_text
        told = (await tab.locator(".message").first.inner_text()).split("solved by ")[1].split(".\n")[0]
        assert f"Our final response by\n{told}" in page_text, (
            told,
            page_text.split("promised")[1][:120].replace("\n", " | "),
        )
        assert "Dates we promised" in page_text
        await shot(tab, "customer-status")

        # the customer writes to the case
        await tab.get_by_label("Your message").fill("I can bring it to the shop on Monday.")
        await tab.get_by_role("button", name="Send", exact=True).click()
        assert "your message has reached your case" in await tab.locator(".notice").inner_text()
        await until_logged(site, reference, staff, "customer message recorded")

        # the store manager resolves it in the console; the survey goes out at once (this variant)
        desk = await (await chromium.new_context()).new_page()
        await desk.goto(f"{site.url}/console/sign-in")
        await desk.fill("#token", staff)
        await desk.press("#token", "Enter")
        await desk.wait_for_url(f"{site.url}/console?*")
        await desk.get_by_role("link", name=reference).click()
        await desk.locator("#act-resolve summary").click()
        resolve = desk.locator("form[action*='/events/resolve']")
        await resolve.locator("textarea[name=text]").fill("We replaced the kettle.")
        await resolve.locator("input[name=justified]").check()
        await resolve.get_by_role("button").click()
        await desk.wait_for_load_state()
        await shot(desk, "console-resolved-for-the-customer")
        assert "done=" in desk.url, await desk.locator("main").inner_text()
        survey_link = link_in(await site.mail("survey"), "/survey")
        await tab.goto(survey_link)
        questions = tab.locator("fieldset")
        assert await questions.count() == 6
        assert "How satisfied are you with the solution" in await questions.first.inner_text()
        for i in range(6):
            await tab.locator(f"input[name=q{i}][value='2']").check()
        await shot(tab, "customer-survey")
        await tab.get_by_role("button", name="Send my answers").click()
        assert "Thank you for your answers" in await tab.locator("main").inner_text()

        # the low score acts as the policy says: reopened, escalated to the store manager
        log = await until_logged(site, reference, staff, "low score: reopen")
        answered = next(e for e in log if e["action"] == "survey answered")
        assert answered["detail"]["answers"] == [2] * 6 and answered["detail"]["score"] == 2
        assert any(e["action"] == "escalated" and e["rule"].startswith("escalation[") for e in log)

        # the same link again: answered already, said kindly
        await tab.goto(survey_link)
        assert "already been answered" in await tab.locator("main").inner_text()
        again = await phone.request.post(survey_link, form={f"q{i}": "9" for i in range(6)}, max_redirects=0)
        assert again.status == 409 and "already been answered" in await again.text()
        await phone.close()


async def test_forged_expired_and_other_links_get_a_page_not_an_error(tmp_path: Path) -> None:
    async with web(tmp_path) as site, browser() as chromium:
        tab = await (await chromium.new_context()).new_page()
        links = Links.of(site.settings.home, site.url)
        real = links.url("C-OTHER-1", "status")
        # a forged signature, a changed complaint id, a key we never had
        token = real.rsplit("/", 1)[1]
        header, claims, signature = token.split(".")
        other = json.loads(base64.urlsafe_b64decode(claims + "=="))
        other["sub"] = "C-SOMEONE-ELSE"
        moved = base64.urlsafe_b64encode(json.dumps(other).encode()).decode().rstrip("=")
        for forged in (
            f"{site.url}/my/{header}.{claims}.{signature[:-4]}AAAA",
            f"{site.url}/my/{header}.{moved}.{signature}",
            Links([("k9", b"x" * 32)], site.url).url("C-OTHER-1", "status"),
            f"{site.url}/my/not-a-token",
        ):
            answer = await tab.goto(forged)
            assert answer is not None and answer.status == 403, forged
            text = await tab.locator("main").inner_text()
            assert "This link cannot be used" in text and "Traceback" not in text
        await shot(tab, "customer-forged-link")
        # a status link does not open the survey, nor the other way round
        answer = await tab.goto(real + "/survey")
        assert answer is not None and answer.status == 403
        assert "for another page" in await tab.locator("main").inner_text()
        # an expired link

        old = links.url("C-OTHER-1", "status", now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        answer = await tab.goto(old)
        assert answer is not None and answer.status == 410
        assert "expired" in await tab.locator("main").inner_text()
        # a valid link to a case that does not exist
        answer = await tab.goto(real)
        assert answer is not None and answer.status == 404
        assert "cannot find this complaint" in await tab.locator("main").inner_text()
        # German, by the browser's language
        german = await (await chromium.new_context(locale="de-DE")).new_page()
        await german.goto(f"{site.url}/my/not-a-token")
        assert "Dieser Link kann nicht verwendet werden" in await german.locator("main").inner_text()
        assert await german.locator("html").get_attribute("lang") == "de"


async def test_links_survive_a_key_rotation_and_keys_stay_private(tmp_path: Path) -> None:
    links = Links.of(tmp_path, "http://example")
    before = links.token("C-1", "status")
    kid = rotate(tmp_path)
    after = Links.of(tmp_path, "http://example")
    assert after.check(before, "status").complaint_id == "C-1"  # still good
    assert after.check(after.token("C-1", "status"), "status").complaint_id == "C-1"
    assert (
        json.loads(base64.urlsafe_b64decode(after.token("C-1", "status").split(".")[0] + "=="))["kid"] == kid
    )
    assert (tmp_path / "links.keys").stat().st_mode & 0o077 == 0
    # rotated every month: a link lives 190 days, so its key verifies it all that time
    today = dt.date.today()
    for month in range(1, 7):
        rotate(tmp_path, today + dt.timedelta(days=30 * month))
    assert Links.of(tmp_path, "http://example").check(before, "status").complaint_id == "C-1"
    # once the key after it has signed for longer than a link lives, the first key goes
    rotate(tmp_path, today + dt.timedelta(days=30 + 191))
    with pytest.raises(Exception, match="key we do not have"):
        Links.of(tmp_path, "http://example").check(before, "status")
    # from the command line
    ombuds = str(Path(sys.executable).parent / "ombuds")
    done = subprocess.run(
        [ombuds, "links", "rotate"],
        env={**os.environ, "OMBUDS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "signed with key k10" in done.stdout, done.stderr
    # a short secret is refused, by name
    with pytest.raises(ValueError, match="k2 is shorter than 32 bytes"):
        Links.of(tmp_path, "http://example", configured="k1:" + "x" * 32 + ",k2:short")


def test_every_word_of_the_customer_pages_is_in_every_language() -> None:
    from ombuds.engine.web.customer_words import WORDS
    from ombuds.engine.web.i18n import COMMON, LANGUAGES

    for table in (WORDS, COMMON):
        for language in LANGUAGES:
            assert set(table[language]) == set(table["en"]), language
            for key, text in table[language].items():
                # the same placeholders, so no language prints a blank
                assert sorted(re.findall(r"{(\w+)}", text)) == sorted(
                    re.findall(r"{(\w+)}", table["en"][key])
                )


async def focus_by_tab(tab: Any, name: str) -> None:
    """Press Tab until the field or button named ``name`` has the focus (keyboard only)."""
    for _ in range(40):
        focused = await tab.evaluate(
            "document.activeElement && (document.activeElement.name || document.activeElement.textContent)"
        )
        if focused and focused.strip() == name:
            return
        await tab.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {name}")


async def test_the_form_by_keyboard_refusals_and_every_action_of_the_status_page(tmp_path: Path) -> None:
    async with web(tmp_path) as site, browser() as chromium:
        staff = site.token("sam", "store-manager")
        context = await chromium.new_context()
        tab = await context.new_page()
        opened = await tab.goto(f"{site.url}/complain")
        assert opened is not None
        headers = opened.headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "form-action 'self'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"

        # keyboard only: Tab from the top of the page, type, Enter on the button
        for name, text in (("name", "Ana Novak"), ("email", "ana@example.org"), ("description", "Broken.")):
            await focus_by_tab(tab, name)
            await tab.keyboard.type(text)
        await focus_by_tab(tab, "Send my complaint")
        await tab.keyboard.press("Enter")
        await tab.wait_for_load_state()
        problems = await tab.locator(".problems").inner_text()
        assert "We cannot take this complaint on: it does not tell us enough" in problems
        assert await tab.get_by_label("Your name").input_value() == "Ana Novak"  # nothing lost
        await tab.get_by_label("What happened").focus()
        await tab.keyboard.press("End")
        await tab.keyboard.type(" The kettle is defective: it leaks from the base when filled.")
        await focus_by_tab(tab, "Send my complaint")
        await tab.keyboard.press("Enter")
        # the answer is a new page: wait for it (the form's page is loaded still while it comes)
        await expect(tab.locator("h1")).to_contain_text("Your complaint has reached us", timeout=30_000)
        reference = (await tab.locator(".notice").inner_text()).split()[-1].rstrip(".")
        await tab.get_by_role("link", name="Follow my complaint").click()
        status_url = tab.url
        assert f"Your complaint {reference}" in await tab.locator("h1").inner_text()

        # a form without its token changes nothing
        forged = await context.request.post(f"{status_url}/reply", form={"text": "hello"}, max_redirects=0)
        assert forged.status == 409 and "out of date" in await forged.text()
        huge = await context.request.post(
            f"{site.url}/complain", form={"description": "x" * 150_000}, max_redirects=0
        )
        assert huge.status == 413 and "too long" in await huge.text()

        # staff offer the options; the customer chooses on the page
        async with httpx.AsyncClient(base_url=site.url, headers={"Authorization": f"Bearer {staff}"}) as http:
            offered = await http.post(f"/complaints/{reference}/events/offer_options", json={})
            assert offered.status_code == 200, offered.text
        await tab.reload()
        await tab.get_by_label("Refund").check()
        await tab.get_by_role("button", name="Choose").click()
        assert "we have your choice" in await tab.locator(".notice").inner_text()
        chosen = await until_logged(site, reference, staff, "customer chose")
        assert next(e for e in chosen if e["action"] == "customer chose")["detail"]["option"] == "refund"
        assert await tab.locator("#options").count() == 0  # chosen: no second choice offered

        # a review asked for, in the customer's words
        await tab.get_by_label("Why").fill("Nobody has called me back.")
        await tab.get_by_role("button", name="Ask for a review").click()
        assert "request for a review has been recorded" in await tab.locator(".notice").inner_text()
        log = await log_of(site, reference, staff)
        assert any(e["trigger"] == "event:escalate" for e in log)

        # withdrawing needs the box ticked; then the case says so and offers nothing more
        await tab.get_by_role("button", name="Withdraw").click()  # the browser holds it back
        assert "?done=withdraw" not in tab.url
        await tab.get_by_label("Yes, I withdraw my complaint").check()
        await tab.get_by_role("button", name="Withdraw").click()
        assert "Your complaint is withdrawn" in await tab.locator(".notice").inner_text()
        text = await tab.locator("main").inner_text()
        assert "Withdrawn by you" in text and "Write to us" not in text
        await shot(tab, "customer-withdrawn")
