"""The customer's pages: the complaint form, their case's status, and the survey.

The status and survey pages are reached only by the signed links in the messages the case
sends (:mod:`.links`); a link opens its own case and no other.  A forged, expired or reused
link gets a page saying so and what to do, never an error.  Every form works without
JavaScript, on a phone, in the customer's language, and is bound to its link by a form token.

The complaint form is one form for the whole site: its fields are the union of what the
policies that take web complaints require, and intake then chooses the policy as for any
complaint (``docs/customer-pages.md``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from ombuds.activities.plugin import OutboundMessage
from ombuds.workflows import names
from ombuds.workflows.core import Actor, Event, Rejected, bounds

from ..activities import compose
from ..intake import IntakeError
from ..limits import RateLimit
from ..policy.messages import localise
from ..policy.model import Complaint, Policy, text_in
from ..policy.snapshot import CompiledPolicy
from ..policy.store import StoreError
from .customer_words import WORDS
from .i18n import LANGUAGES, texts
from .links import Link, LinkError, Links, Use
from .pages import Desk, FormError, csrf_ok, csrf_token, form, language_of, page, redirect, same

#: Complaints one address may file through the form in a minute.
FORM_PER_MINUTE = 5
#: How long a complaint form stays good to send, in seconds.
FORM_LIFE = 2 * 3600
#: The longest text a customer writes in one field.
MAX_TEXT = 20_000
#: What a case's link may do in a minute, and in a day.
ACTS_PER_MINUTE = 10
ACTS_PER_DAY = 100
#: The messages a case's page shows: the latest.
SHOWN_MESSAGES = 50
_TZ = re.compile(r"\(([^()]+)\)\s*$")

_ACTIONS = ("reply", "escalate", "choose", "withdraw")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


class Refused(Exception):
    """A page instead of what was asked: a bad link, a missing case, a busy service."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


def told(due: str | None, due_local: str | None, language: str) -> str | None:
    """A deadline as people write it: a date (``5 March 2027``, ``5. März 2027``), with the time
    when it is not the end of a day, in the calendar's timezone."""
    if not due:
        return None
    found = _TZ.search(due_local or "")
    try:
        zone = ZoneInfo(found.group(1)) if found else dt.UTC
        at = dt.datetime.fromisoformat(due.replace("Z", "+00:00")).astimezone(zone)
    except (ValueError, KeyError):
        return due_local
    day = format_date(at.date(), format="long", locale=language)
    if "end of day" in (due_local or "") or (at.hour, at.minute) >= (23, 59):
        return day
    return f"{day}, {format_time(at.time(), format='short', locale=language)}"


def told_day(day: str, language: str) -> str:
    try:
        return format_date(dt.date.fromisoformat(day), format="long", locale=language)
    except ValueError:
        return day


def routes(app: FastAPI, desk: Desk) -> None:
    """The customer's pages, on the API's app."""
    per_address = RateLimit(FORM_PER_MINUTE, per_seconds=60)
    # a case's link acts a few times a minute and some dozens a day: what a person does, not a script
    acting = RateLimit(ACTS_PER_MINUTE, per_seconds=60)
    acting_daily = RateLimit(ACTS_PER_DAY, per_seconds=86_400)

    def refused_page(request: Request, exc: Refused, language: str | None = None) -> HTMLResponse:
        lang = language or language_of(request)
        return page(request, "customer_refused.html", lang, WORDS, exc.status, message_key=exc.key)

    def opened(token: str, use: Use) -> Link:
        try:
            return desk.links.check(token, use)
        except LinkError as exc:
            raise Refused(410 if exc.reason == "expired" else 403, f"link_{exc.reason}") from None

    async def case_of(link: Link) -> tuple[dict[str, Any], CompiledPolicy | None]:
        try:
            view = await desk.view(link.complaint_id)
        except HTTPException as exc:
            raise Refused(
                404 if exc.status_code == 404 else 503, "no_case" if exc.status_code == 404 else "busy"
            ) from None
        try:
            compiled = desk.store.policy(str(view.get("policy_sha", "")))
        except (StoreError, OSError, ValueError):
            compiled = None
        return view, compiled

    async def sent_to_customer(link: Link, compiled: CompiledPolicy | None) -> list[dict[str, Any]]:
        """The messages the customer was sent, as they read them."""
        try:
            sent = await desk.messages(link.complaint_id)
        except HTTPException:
            return []
        if compiled is None:
            return []
        theirs = [
            item
            for item in sent
            if item.get("send", {}).get("to") == "customer" and item.get("status") != "undeliverable"
        ][-SHOWN_MESSAGES:]
        # off the event loop: rendering templates is work no other request should wait for
        return await asyncio.to_thread(_worded, compiled, theirs, desk.links)

    async def status_values(
        request: Request, token: str, link: Link, language: str | None
    ) -> tuple[str, dict[str, Any]]:
        view, compiled = await case_of(link)
        messages = await sent_to_customer(link, compiled)
        subject = str(view.get("subject") or "")
        policy: Policy | None = compiled.policy if compiled else None
        lang = language_of(request, language or _locale_of(view, messages, compiled))
        words = texts(lang, WORDS)
        default = policy.policy.locale if policy else "en"
        stage = next((s for s in policy.stages if s.id == view.get("stage")), None) if policy else None
        clocks = {c.get("kind"): c for c in view.get("clocks", [])}
        # the deadlines worded as the customer's messages word them
        worded = localise(
            {
                "deadlines": view.get("told", {}).get("deadlines", {}),
                "customer": {"timezone": view.get("customer_timezone")},
            },
            policy,
            lang,
            to="customer",
        )["deadlines"]

        def when(clock: dict[str, Any] | None) -> str | None:
            if clock is None:
                return None
            if clock.get("status") not in ("running", "paused", "breached"):
                return words["done"]
            shown = worded.get(clock.get("id"))
            return str(shown) if shown is not None else told(clock.get("due"), clock.get("due_local"), lang)

        promised = []
        for kind, key in (("acknowledge", "ack_by"), ("resolution", "final_by")):
            said = when(clocks.get(kind))
            if said is not None:
                promised.append((words[key], said))
        titles = {d.id: d.title for d in policy.dates} if policy else {}
        for date_id, day in (view.get("dates") or {}).items():
            promised.append((text_in(titles.get(date_id), lang, default) or date_id, told_day(day, lang)))
        status = str(view.get("status", "open"))
        final_date = when(clocks.get("resolution"))
        if status == "open":
            next_text = (
                words["next_open"].format(date=final_date) if final_date else words["next_open_nodate"]
            )
        else:
            next_text = words.get(f"next_{status}", "")
        remedies = policy.compensation.remedies if policy else {}
        offered = [
            (option, text_in(remedies[option].title, lang, default) if option in remedies else option)
            for option in view.get("offered", [])
        ]
        customer_may_escalate = bool(policy) and any(
            rule.trigger.on == "customer_request" for rule in (policy.escalation if policy else [])
        )
        return lang, {
            "title": words["case_title"].format(id=link.complaint_id),
            "complaint_id": link.complaint_id,
            "subject": subject,
            "status_text": words.get(f"st_{status}", status),
            "case_status": status,
            "stage_text": text_in(stage.title, lang, default) if stage and stage.title else view.get("stage"),
            "next_text": next_text,
            "promised": promised,
            "messages": messages,
            "offered": offered if not view.get("chosen") else [],
            "may_act": status in ("open", "resolved"),
            "may_escalate": customer_may_escalate and status in ("open", "resolved"),
            "may_withdraw": status == "open",
            "csrf": csrf_token(desk.key(), token),
            "token": token,
        }

    @app.get("/my/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def status_page(request: Request, token: str, done: str | None = None) -> Response:
        try:
            link = opened(token, "status")
            lang, values = await status_values(request, token, link, None)
        except Refused as exc:
            return refused_page(request, exc)
        words = texts(lang, WORDS)
        notice = words.get(f"done_{done}") if done in _ACTIONS else None
        return page(request, "customer_status.html", lang, WORDS, notice=notice, problems=[], **values)

    @app.post("/my/{token}/{action}", response_class=HTMLResponse, include_in_schema=False)
    async def act(request: Request, token: str, action: str) -> Response:
        if action == "survey":
            return await survey_sent(request, token)
        try:
            link = opened(token, "status")
        except Refused as exc:
            return refused_page(request, exc)
        try:
            fields = await form(request)
        except FormError as exc:
            return refused_page(request, _unreadable(exc))
        lang = language_of(request, fields.get("lang"))
        words = texts(lang, WORDS)
        problem = None
        if action not in _ACTIONS:
            return refused_page(request, Refused(404, "link_other"), lang)
        if not csrf_ok(desk.key(), token, fields):
            problem = words["stale_form"]
        text = fields.get("text", "").strip()
        if len(text) > (MAX_TEXT if action == "reply" else bounds.NOTE):
            problem = problem or words["too_large"]
        if acting.wait(link.complaint_id) or acting_daily.wait(link.complaint_id):
            problem = problem or words["too_often"]
        event: dict[str, Any] = {}
        if action == "reply":
            event = {"kind": "customer_message", "text": text}
            if not text:
                problem = problem or words["write_something"]
        elif action == "escalate":
            event = {"kind": "escalate", "reason": text or None}
        elif action == "choose":
            event = {"kind": "choose_option", "option": fields.get("option", "")[:128]}
        elif action == "withdraw":
            event = {"kind": "withdraw", "reason": text or None}
            if fields.get("confirm") != "yes":
                problem = problem or words["confirm_withdraw"]
        if problem is None:
            problem = await sent(link, event, words)
        if problem is None:
            suffix = f"&lang={lang}" if fields.get("lang") in LANGUAGES else ""
            return redirect(f"/my/{token}?done={action}{suffix}")
        try:
            lang, values = await status_values(request, token, link, fields.get("lang"))
        except Refused as exc:
            return refused_page(request, exc, lang)
        return page(
            request, "customer_status.html", lang, WORDS, 409, problems=[problem], notice=None, **values
        )

    async def sent(link: Link, fields: dict[str, Any], words: dict[str, str]) -> str | None:
        """Send the customer's event to their case: None when taken, else why not, in words."""
        try:
            event = Event.model_validate({**fields, "actor": Actor(kind="customer").model_dump()})
            bounds.check_event(event)
        except (ValidationError, Rejected) as exc:
            return words["too_large"] if "at most" in str(exc) else words["stale_form"]
        try:
            await desk.act(link.complaint_id, event)
        except HTTPException as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
            reason = str(detail.get("message", "")).removeprefix("refused: ")
            if exc.status_code >= 500:
                return words["busy"]
            return words["refused"].format(reason=reason.split(";")[0])
        return None

    # ------------------------------------------------------------------ the survey

    async def survey_state(link: Link) -> tuple[str | None, CompiledPolicy | None, bool, bool]:
        """The customer's language, the case's policy, whether the survey was sent, and whether
        it was answered."""
        view, compiled = await case_of(link)
        locale = _locale_of(view, [], compiled)
        try:
            handle = (await desk.client()).get_workflow_handle(link.complaint_id)
            entries = await handle.query(names.LOG_QUERY)
        except (RPCError, TemporalError, HTTPException):
            raise Refused(503, "busy") from None
        actions = [getattr(e, "action", None) or e.get("action") for e in entries]
        return locale, compiled, "survey sent" in actions, "survey answered" in actions

    def survey_values(token: str, link: Link, compiled: CompiledPolicy, lang: str) -> dict[str, Any]:
        survey = compiled.policy.follow_up.survey
        assert survey is not None
        default = compiled.policy.policy.locale
        words = texts(lang, WORDS)
        low, high = survey.scale
        return {
            "title": words["survey_title"],
            "intro": words["survey_intro"].format(id=link.complaint_id),
            "questions": [text_in(q, lang, default) for q in survey.questions],
            "scale": list(range(low, high + 1)),
            "scale_text": words["scale"].format(low=low, high=high),
            "csrf": csrf_token(desk.key(), token),
            "token": token,
        }

    @app.get("/my/{token}/survey", response_class=HTMLResponse, include_in_schema=False)
    async def survey_page(request: Request, token: str) -> Response:
        try:
            link = opened(token, "survey")
            locale, compiled, was_sent, answered = await survey_state(link)
        except Refused as exc:
            return refused_page(request, exc)
        lang = language_of(request, locale)
        if compiled is None or compiled.policy.follow_up.survey is None or not was_sent:
            return page(request, "customer_refused.html", lang, WORDS, 404, message_key="survey_none")
        if answered:
            return page(request, "customer_refused.html", lang, WORDS, 409, message_key="survey_done")
        values = survey_values(token, link, compiled, lang)
        return page(request, "customer_survey.html", lang, WORDS, problems=[], answers={}, **values)

    async def survey_sent(request: Request, token: str) -> Response:
        try:
            link = opened(token, "survey")
            locale, compiled, was_sent, answered = await survey_state(link)
            fields = await form(request)
        except Refused as exc:
            return refused_page(request, exc)
        except FormError as exc:
            return refused_page(request, _unreadable(exc))
        lang = language_of(request, fields.get("lang") or locale)
        words = texts(lang, WORDS)
        if compiled is None or compiled.policy.follow_up.survey is None or not was_sent:
            return page(request, "customer_refused.html", lang, WORDS, 404, message_key="survey_none")
        if answered:
            return page(request, "customer_refused.html", lang, WORDS, 409, message_key="survey_done")
        values = survey_values(token, link, compiled, lang)
        answers: list[int] = []
        for i in range(len(values["questions"])):
            given = fields.get(f"q{i}", "")
            if re.fullmatch(r"-?[0-9]{1,7}", given) and int(given) in values["scale"]:
                answers.append(int(given))
        problem = None
        if not csrf_ok(desk.key(), token, fields):
            problem = words["stale_form"]
        elif len(answers) != len(values["questions"]):
            problem = words["answer_all"]
        else:
            problem = await sent(link, {"kind": "survey_answer", "answers": answers}, words)
            if problem and "already answered" in problem:
                return page(request, "customer_refused.html", lang, WORDS, 409, message_key="survey_done")
        if problem is not None:
            kept = {f"q{i}": fields.get(f"q{i}", "") for i in range(len(values["questions"]))}
            return page(
                request, "customer_survey.html", lang, WORDS, 422, problems=[problem], answers=kept, **values
            )
        return page(
            request, "customer_refused.html", lang, WORDS, 200, message_key="thanks_survey", thanks=True
        )

    # ------------------------------------------------------------------ the complaint form

    def form_token(now: int) -> str:
        mac = hmac.new(desk.key(), f"complain:{now}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{now}.{mac}"

    def form_token_ok(given: str) -> bool:
        stamp, _, _mac = given.partition(".")
        if not re.fullmatch(r"[0-9]{1,12}", stamp) or not 0 <= time.time() - int(stamp) <= FORM_LIFE:
            return False
        return same(form_token(int(stamp)), given)

    def web_policies() -> list[Policy]:
        try:
            policies = desk.intake().policies
        except HTTPException:
            return []
        return [p.policy for p in policies if "web" in p.policy.intake.channels]

    def form_values(lang: str, fields: dict[str, str]) -> dict[str, Any]:
        policies = web_policies()
        required = {field for p in policies for field in p.intake.required}
        locales = sorted({code for p in policies for code in (p.policy.locales or [p.policy.locale])})
        currencies = sorted({p.policy.currency for p in policies})
        words = texts(lang, WORDS)
        return {
            "title": words["form_title"],
            "required": {
                "name": "customer.name" in required,
                "email": True,
                "subject": "subject" in required,
                "description": True,
                "account": "customer.account_number" in required,
                "incident": "incident_date" in required,
            },
            "locales": [(code, LANGUAGES.get(code, code)) for code in locales],
            "currencies": currencies,
            "fields": fields,
            "token": form_token(int(time.time())),
            "open": bool(policies),
        }

    @app.get("/complain", response_class=HTMLResponse, include_in_schema=False)
    async def complaint_form(request: Request) -> Response:
        lang = language_of(request)
        values = form_values(lang, {"locale": lang})
        status = 200 if values["open"] else 503
        return page(request, "customer_form.html", lang, WORDS, status, problems=[], **values)

    @app.post("/complain", response_class=HTMLResponse, include_in_schema=False)
    async def complaint_sent(request: Request) -> Response:
        try:
            fields = await form(request)
        except FormError as exc:
            return refused_page(request, _unreadable(exc))
        lang = language_of(request, fields.get("lang"))
        words = texts(lang, WORDS)
        values = form_values(lang, fields)
        address = request.client.host if request.client else "-"
        if not form_token_ok(fields.get("token", "")):
            problems = [words["stale_form"]]
        elif per_address.wait(address):
            return page(
                request, "customer_form.html", lang, WORDS, 429, problems=[words["too_many"]], **values
            )
        else:
            problems = _complaint_problems(fields, values["required"], words)
        complaint = None
        if not problems:
            try:
                complaint = _complaint(fields)
            except ValidationError as exc:
                problems = [_said(error) for error in exc.errors()]
        if complaint is not None and not problems:
            try:
                done = await desk.intake().submit(await desk.client(), complaint)
            except IntakeError as exc:
                problems = [words["not_taken"].format(reason=str(exc))]
            except (HTTPException, RPCError, TemporalError):
                problems = [words["busy"]]
            else:
                if done.refused:
                    reason = words.get(f"refusal_{done.refused}", words["refusal_other"])
                    problems = [words["not_taken"].format(reason=reason)]
                elif not done.started:  # never a link to a case that is not this one
                    problems = [words["busy"]]
                else:
                    return page(
                        request,
                        "customer_filed.html",
                        lang,
                        WORDS,
                        201,
                        title=words["filed"],
                        complaint_id=done.complaint_id,
                        status_url=desk.links.url(done.complaint_id, "status"),
                    )
        return page(request, "customer_form.html", lang, WORDS, 422, problems=problems, **values)


def _worded(compiled: CompiledPolicy, sent: list[dict[str, Any]], links: Links) -> list[dict[str, Any]]:
    """The messages as the customer read them (one that cannot be shown again is left out)."""
    shown = []
    for item in sent:
        send = item["send"]
        try:
            title, body = compose(compiled, OutboundMessage.model_validate(send), links)
        except Exception:  # a message that cannot be shown again is left out, never an error
            continue
        shown.append({"at": item.get("at", ""), "subject": title, "body": body, "locale": send.get("locale")})
    return shown


def _unreadable(exc: FormError) -> Refused:
    return Refused(413, "too_large") if "at most" in str(exc) else Refused(400, "stale_form")


def _said(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"


def _locale_of(
    view: dict[str, Any], messages: list[dict[str, Any]], compiled: CompiledPolicy | None
) -> str | None:
    """The customer's language: as the case has it (a case started before it said so: as its
    messages were written, else the policy's)."""
    if view.get("locale"):
        return str(view["locale"])
    if messages:
        return str(messages[0]["locale"])
    return compiled.policy.policy.locale if compiled else None


def _complaint_problems(
    fields: dict[str, str], required: dict[str, bool], words: dict[str, str]
) -> list[str]:
    problems = []
    for name, needed in required.items():
        if needed and not fields.get(name, "").strip():
            problems.append(words["need"].format(field=words[name]))
    email = fields.get("email", "").strip()
    if email and not _EMAIL.match(email):
        problems.append(words["bad_email"])
    incident = fields.get("incident", "").strip()
    if incident:
        try:
            if dt.date.fromisoformat(incident) > dt.date.today():
                problems.append(words["not_future"])
        except ValueError:
            problems.append(words["bad_date"])
    amount = fields.get("amount", "").strip().replace(",", ".")
    if amount and not re.fullmatch(r"\d{1,12}(\.\d{1,2})?", amount):
        problems.append(words["bad_amount"])
    for name, limit in (
        ("name", 200),
        ("subject", 300),
        ("description", MAX_TEXT),
        ("phone", 40),
        ("account", 64),
        ("order", 64),
    ):
        if len(fields.get(name, "")) > limit:
            problems.append(f"{words[name]}: ≤ {limit:,}")
    return problems


def _complaint(fields: dict[str, str]) -> Complaint:
    def given(name: str) -> str | None:
        value = fields.get(name, "").strip()
        return value or None

    amount = given("amount")
    return Complaint.model_validate(
        {
            "received_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "channel": "web",
            "customer": {
                "name": given("name"),
                "contacts": {"email": given("email"), "phone": given("phone")},
                "account_number": given("account"),
                "locale": given("locale"),
            },
            "order_ids": [given("order")] if given("order") else [],
            "subject": given("subject"),
            "description": given("description") or "",
            "incident_date": given("incident"),
            "amount": amount.replace(",", ".") if amount else None,
            "currency": given("currency") if amount else None,
        }
    )
