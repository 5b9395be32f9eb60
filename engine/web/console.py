"""The staff console: sign in with an API token, the work queue, and each case with its clocks,
decision log, messages and a form for every event the signed-in member of staff may send.

Every page acts through the API's own functions (:class:`~.pages.Desk`) with the identity the
token names, so the console takes the same checks and gets the same answers as an API call.
The token is kept in an ``HttpOnly; Secure; SameSite=Strict`` cookie limited to ``/console``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import typing
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from .. import tokens
from ..event_bodies import BODIES, STAFF_KINDS, names_across
from ..policy.model import Channel, Policy, text_in
from ..policy.store import StoreError
from . import oidc as oidc_flow
from .console_words import TEXTS
from .i18n import LANGUAGES, texts
from .pages import Desk, FormError, csrf_ok, csrf_token, form, language_of, page, redirect, staff_of

#: The cookie that keeps the signed-in staff member's token.
COOKIE = "ombuds_staff"
#: The sign-in form's own token, so nobody else's page signs a browser in as someone else.
SIGN_IN_COOKIE = "ombuds_sign_in"
#: A sign-in at the identity provider under way: its state and PKCE verifier, signed.
PROVIDER_COOKIE = "ombuds_provider"
#: Longest a sign-in lasts (a working day), however long the token lives.
SESSION_SECONDS = 12 * 3600
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_SHA = re.compile(r"[0-9a-f]{64}")
_STATUSES = ("open", "resolved", "closed", "refused", "withdrawn")
#: Fields written as several lines of text.
_LONG = frozenset({"text", "summary", "question"})
#: Fields with a hint of how they are written.
_HINTS = {
    "amount": "hint_amount",
    "target": "hint_target",
    "at": "hint_at",
    "corrective_actions": "hint_lines",
}
_TRUE = frozenset({"on", "true", "yes", "1"})


@dataclass(frozen=True)
class Signed:
    """Who is signed in, and the token that says so (the forms' tokens are bound to it)."""

    who: tokens.Identity
    token: str


@dataclass
class Input:
    """One field of an event's form."""

    name: str
    widget: str  # checkbox, select, textarea, text, number, decimal, date
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    checked: bool = False
    hint: str | None = None


@dataclass
class Action:
    """The form of one event kind."""

    kind: str
    inputs: list[Input]


def routes(app: FastAPI, desk: Desk) -> None:
    """The console's pages, all under ``/console``."""

    async def signed_in(request: Request) -> Signed | None:
        token = request.cookies.get(COOKIE, "")
        who = await staff_of(desk, token)
        return Signed(who, token) if who is not None else None

    def sign_in_page(request: Request, problems: list[str], status: int = 200, notice: str = "") -> Response:
        language = language_of(request)
        nonce = secrets.token_urlsafe(24)
        answer = page(
            request,
            "console_sign_in.html",
            language,
            TEXTS,
            status,
            problems=problems,
            notice=notice,
            csrf=csrf_token(desk.key(), f"sign-in:{nonce}"),
            lang_query=f"lang={language}",
            provider=bool(desk.settings.oidc and desk.settings.oidc.client_id),
        )
        _keep(answer, SIGN_IN_COOKIE, nonce, 3600)
        return answer

    @app.get("/console/sign-in", include_in_schema=False)
    async def sign_in_form(request: Request) -> Response:
        t = _texts(request)
        return sign_in_page(request, [], notice=t["signed_out"] if "out" in request.query_params else "")

    @app.post("/console/sign-in", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        t = _texts(request)
        try:
            fields = await form(request)
        except FormError as exc:
            return sign_in_page(request, [t["not_a_form"].format(reason=exc)], 400)
        nonce = request.cookies.get(SIGN_IN_COOKIE, "")
        if not nonce or not csrf_ok(desk.key(), f"sign-in:{nonce}", fields):
            return sign_in_page(request, [t["form_expired"]], 403)
        token = fields.get("token", "").strip()
        if not token:
            return sign_in_page(request, [t["token_missing"]], 401)
        try:
            who = await run_in_threadpool(desk.verifier.verify, token)
        except tokens.TokenError as exc:
            return sign_in_page(request, [t["token_refused"].format(reason=exc)], 401)
        if who.kind != "staff":
            return sign_in_page(request, [t["token_refused"].format(reason="not a staff member's")], 401)
        answer = redirect(f"/console?lang={language_of(request)}")
        try:
            start_session(answer, who)
        except tokens.TokenError as exc:
            return sign_in_page(request, [t["token_refused"].format(reason=exc)], 401)
        answer.delete_cookie(SIGN_IN_COOKIE, path="/console", secure=True, httponly=True, samesite="strict")
        return answer

    def start_session(answer: Response, who: tokens.Identity) -> None:
        """Sign in: a session token of our own in the cookie, never the token the person gave
        (which may live a year, or be a provider's too large for a cookie), as short as the
        session and no longer than the token it came from."""
        seconds = _session_seconds(who)
        session = tokens.create(
            desk.verifier.key, who.user, who.level, seconds=seconds, kind="staff", scopes=who.scopes
        )
        _keep(answer, COOKIE, session, seconds)

    def callback_uri() -> str:
        return f"{desk.settings.web_url}/console/sign-in/callback"

    @app.get("/console/sign-in/provider", include_in_schema=False)
    async def provider_sign_in(request: Request) -> Response:
        """To the identity provider, remembering this sign-in in a cookie until it returns."""
        oidc = desk.settings.oidc
        if oidc is None or not oidc.client_id:
            return redirect(_sign_in_url(request))
        try:
            to, pending = await run_in_threadpool(oidc_flow.start, oidc, callback_uri(), desk.key())
        except oidc_flow.SignInError as exc:
            return sign_in_page(request, [_texts(request)["token_refused"].format(reason=exc)], 503)
        answer = RedirectResponse(to, 303)
        # Lax: the provider sends the browser back from its own site
        _keep(answer, PROVIDER_COOKIE, f"{language_of(request)}.{pending}", oidc_flow.PENDING_SECONDS, "lax")
        return answer

    @app.get("/console/sign-in/callback", include_in_schema=False)
    async def provider_callback(request: Request) -> Response:
        """Back from the provider: its token, verified as an API call's, signs in."""
        oidc = desk.settings.oidc
        t = _texts(request)
        remembered = request.cookies.get(PROVIDER_COOKIE, "")
        language, _, pending = remembered.partition(".")
        if oidc is None or not oidc.client_id:
            return redirect(_sign_in_url(request))
        if "error" in request.query_params:
            # the provider's words only for a sign-in this browser started: no one else's text here
            if oidc_flow.started_here(desk.key(), pending, request.query_params.get("state", "")) is None:
                said = "this sign-in was not started here, or it took too long; please sign in again"
            else:
                said = request.query_params.get("error_description") or request.query_params["error"]
            return sign_in_page(request, [t["token_refused"].format(reason=said[:200])], 401)
        try:
            token = await oidc_flow.finish(
                oidc,
                callback_uri(),
                desk.key(),
                pending,
                request.query_params.get("state", ""),
                request.query_params.get("code", ""),
            )
            who = await run_in_threadpool(desk.verifier.verify, token)
        except (oidc_flow.SignInError, tokens.TokenError) as exc:
            return sign_in_page(request, [t["token_refused"].format(reason=exc)], 401)
        # a page of our own moves on to the console: a cookie kept SameSite=Strict is sent on a
        # navigation this site starts, not on the provider's redirect
        language = language if language in LANGUAGES else "en"
        to = f"/console?lang={language}"
        answer = page(request, "console_moving.html", language, TEXTS, to=to, lang_query=f"lang={language}")
        try:
            start_session(answer, who)
        except tokens.TokenError as exc:
            return sign_in_page(request, [t["token_refused"].format(reason=exc)], 401)
        answer.delete_cookie(PROVIDER_COOKIE, path="/console", secure=True, httponly=True, samesite="lax")
        return answer

    @app.post("/console/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return redirect(_sign_in_url(request))
        try:
            fields = await form(request)
        except FormError as exc:
            return _problem_page(request, signed, [_texts(request)["not_a_form"].format(reason=exc)], 400)
        if not csrf_ok(desk.key(), signed.token, fields):
            return _problem_page(request, signed, [_texts(request)["form_expired"]], 403)
        answer = redirect(f"/console/sign-in?out=1&lang={language_of(request)}")
        answer.delete_cookie(COOKIE, path="/console", secure=True, httponly=True, samesite="strict")
        return answer

    def _problem_page(request: Request, signed: Signed, problems: list[str], status: int) -> HTMLResponse:
        language = language_of(request)
        return page(
            request,
            "console_problem.html",
            language,
            TEXTS,
            status,
            problems=problems,
            **_chrome(desk, signed, language),
        )

    @app.get("/console", include_in_schema=False)
    async def queue(request: Request) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return redirect(_sign_in_url(request))
        language = language_of(request)
        t = _texts(request)
        who = signed.who
        asked = request.query_params
        try:
            known = names_across(desk.intake())
        except HTTPException:
            known = {"stage": [], "level": [], "queue": []}
        known["channel"] = list(typing.get_args(Channel))
        problems: list[str] = []
        chosen: dict[str, str | None] = {}
        for name, what in (
            ("level", "level"),
            ("queue", "queue_name"),
            ("stage", "stage"),
            ("channel", "channel"),
        ):
            value = asked.get(name) or None
            if value is not None and value not in known[name]:
                problems.append(t["unknown_filter"].format(what=t[what], value=value))
                value = None
            chosen[name] = value
        wanted = asked.get("status", "open")
        status = wanted if wanted in _STATUSES else None
        mine, awaiting = asked.get("mine") == "on", asked.get("awaiting") == "on"
        page_token = asked.get("page") or None
        rows: list[dict[str, Any]] = []
        next_page = None
        try:
            listed = await desk.listing(
                who=who,
                status=status,
                stage=chosen["stage"],
                level=chosen["level"],
                severity=None,
                category=None,
                channel=chosen["channel"],
                policy=None,
                queue=chosen["queue"],
                assignee=who.user if mine else None,
                awaiting=who.level if awaiting else None,
                undelivered=False,
                breached=None,
                received_after=None,
                received_before=None,
                limit=50,
                page=page_token[:2000] if page_token else None,
            )
            rows, next_page = listed["complaints"], listed["next_page"]
        except HTTPException as exc:
            problems.append(_message(exc))
        now = dt.datetime.now(dt.UTC)
        shown = sorted(
            (_row(r, now) for r in rows), key=lambda r: (r["deadline"] is None, r["deadline"] or now)
        )
        kept = {k: v for k, v in chosen.items() if v} | {"status": status or "any", "lang": language}
        kept |= {"mine": "on"} if mine else {}
        kept |= {"awaiting": "on"} if awaiting else {}
        return page(
            request,
            "console_queue.html",
            language,
            TEXTS,
            problems=problems,
            notice="",
            rows=shown,
            known=known,
            chosen=chosen,
            status_filter=status or "any",
            statuses=_STATUSES,
            mine=mine,
            awaiting=awaiting,
            next_page=_query({**kept, "page": next_page}) if next_page else None,
            **_chrome(desk, signed, language),
        )

    async def case_page(
        request: Request,
        signed: Signed,
        complaint_id: str,
        problems: list[str],
        status: int = 200,
    ) -> HTMLResponse:
        language = language_of(request)
        t = _texts(request)
        if not _ID.match(complaint_id):
            return _problem_page(request, signed, [t["no_case"].format(id="")], 404)
        try:
            view = await desk.case(complaint_id, signed.who)
            sent = await desk.messages(complaint_id)
            policy = await desk.policy_of(complaint_id)
        except HTTPException as exc:
            if exc.status_code == 404:
                return _problem_page(request, signed, [t["no_case"].format(id=complaint_id)], 404)
            return _problem_page(request, signed, [t["unavailable"].format(reason=_message(exc))], 503)
        words = _Words(policy, language)
        notice, refusal = ("", "") if problems else _answered(request, t, view, words)
        problems = [*problems, refusal] if refusal else problems
        return page(
            request,
            "console_case.html",
            language,
            TEXTS,
            status,
            problems=problems,
            notice=notice,
            view=view,
            complaint_id=complaint_id,
            words=words,
            bars={c["id"]: _bar(desk, view, c) for c in view["clocks"]},
            sent=sent,
            actions=_actions(signed.who, policy, view, desk, words),
            approvals=_approvals(signed.who, policy, view),
            compensation=_compensation_terms(signed.who, policy, view, words, t),
            level_known=policy is None or any(lv.id == signed.who.level for lv in policy.authority),
            log=list(reversed(view.get("log", []))),
            utc=_utc,
            detail=lambda d: _detail(d, view.get("texts") or {}),
            **_chrome(desk, signed, language),
        )

    @app.get("/console/cases/{complaint_id}", include_in_schema=False)
    async def case(request: Request, complaint_id: str) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return redirect(_sign_in_url(request))
        return await case_page(request, signed, complaint_id, [])

    @app.get("/console/policies/{sha}", include_in_schema=False)
    async def pinned_policy(request: Request, sha: str) -> Response:
        """The exact policy text a snapshot was compiled from: what each decision's line points at."""
        signed = await signed_in(request)
        if signed is None:
            return redirect(_sign_in_url(request))
        language = language_of(request)
        t = _texts(request)
        try:
            if not _SHA.fullmatch(sha):
                raise StoreError(sha)
            policy = desk.store.policy(sha)
        except StoreError:
            return _problem_page(request, signed, [t["pinned_none"].format(sha=sha[:64])], 404)
        changed = []
        for name, text in sorted(policy.source.items()):
            current = desk.settings.policies / name
            try:
                same = current.read_text("utf-8") == text
            except OSError:
                same = False
            if not same:
                changed.append(str(current))
        return page(
            request,
            "console_policy.html",
            language,
            TEXTS,
            policy=policy,
            files=[(name, text.splitlines()) for name, text in sorted(policy.source.items())],
            changed=changed,
            **_chrome(desk, signed, language),
        )

    @app.post("/console/cases/{complaint_id}/events/{kind}", include_in_schema=False)
    async def event(request: Request, complaint_id: str, kind: str) -> Response:
        signed = await signed_in(request)
        if signed is None:
            return redirect(_sign_in_url(request))
        t = _texts(request)
        if kind not in STAFF_KINDS:
            return _problem_page(request, signed, [t["refused"].format(reason=f"no event {kind}")], 404)
        try:
            posted = await form(request)
        except FormError as exc:
            return await case_page(request, signed, complaint_id, [t["not_a_form"].format(reason=exc)], 400)
        if not csrf_ok(desk.key(), signed.token, posted):
            return await case_page(request, signed, complaint_id, [t["form_expired"]], 403)
        fields, problems = _fields_of(kind, posted, t)
        if problems:
            return await case_page(request, signed, complaint_id, problems, 422)
        try:
            BODIES[kind].model_validate(fields)
            answer = await desk.send(complaint_id, kind, fields, signed.who, None)
        except ValidationError as exc:
            found = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            return await case_page(request, signed, complaint_id, found, 422)
        except HTTPException as exc:
            return await case_page(request, signed, complaint_id, [_message(exc)], exc.status_code)
        done = {"done": answer.status, "kind": kind, "lang": language_of(request)}
        if answer.seq is not None:
            done["seq"] = str(answer.seq)
        level = answer.detail.get("approval_level")
        if isinstance(level, str) and _ID.match(level):
            done["by"] = level
        return redirect(f"/console/cases/{complaint_id}?{_query(done)}")


class _Words:
    """The pinned policy's names as a reader of ``language`` reads them."""

    def __init__(self, policy: Policy | None, language: str) -> None:
        self.policy = policy
        self.language = language
        self.currency = policy.policy.currency if policy else ""

    def _text(self, value: Any, fallback: str) -> str:
        if self.policy is None:
            return fallback
        return text_in(value, self.language, self.policy.policy.locale) or fallback

    def level(self, level_id: str | None) -> str:
        found = next((lv for lv in self.policy.authority if lv.id == level_id), None) if self.policy else None
        name = self._text(found.title, level_id or "") if found else (level_id or "")
        return f"{name} ({level_id})" if found and name != level_id else name

    def stage(self, stage_id: str) -> str:
        found = next((s for s in self.policy.stages if s.id == stage_id), None) if self.policy else None
        return self._text(found.title, stage_id) if found and found.title else stage_id

    def remedy(self, remedy_id: str) -> str:
        found = self.policy.compensation.remedies.get(remedy_id) if self.policy else None
        return self._text(found.title, remedy_id) if found else remedy_id

    def money(self, amount: Any) -> str:
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            return str(amount)
        shown = f"{value:,.2f}"
        if self.language == "de":
            shown = shown.replace(",", " ").replace(".", ",").replace(" ", ".")
        return f"{shown} {self.currency}".strip()


def _texts(request: Request) -> dict[str, str]:
    return texts(language_of(request), TEXTS)


def _sign_in_url(request: Request) -> str:
    return f"/console/sign-in?lang={language_of(request)}"


def _chrome(desk: Desk, signed: Signed, language: str) -> dict[str, Any]:
    """What the layout of a signed-in page shows: who, their sign-out form and its token."""
    return {
        "who": signed.who,
        "csrf": csrf_token(desk.key(), signed.token),
        "lang_query": f"lang={language}",
    }


def _query(values: dict[str, str | None]) -> str:
    return urllib.parse.urlencode({k: v for k, v in values.items() if v is not None})


def _keep(
    answer: Response,
    name: str,
    value: str,
    seconds: int,
    samesite: typing.Literal["strict", "lax"] = "strict",
) -> None:
    """A console cookie: no script reads it, only over a secure context, only under /console."""
    answer.set_cookie(
        name, value, max_age=seconds, path="/console", secure=True, httponly=True, samesite=samesite
    )


def _session_seconds(who: tokens.Identity) -> int:
    try:
        expires = dt.datetime.fromisoformat(who.expires)
    except ValueError:
        return SESSION_SECONDS
    left = int((expires - dt.datetime.now(dt.UTC)).total_seconds())
    return max(1, min(left, SESSION_SECONDS))


def _message(exc: HTTPException) -> str:
    """What an API answer of refusal says, as one line."""
    detail = exc.detail
    if isinstance(detail, dict):
        text = str(detail.get("message", ""))
        hint = detail.get("hint")
        return f"{text} ({hint})" if hint else text
    if isinstance(detail, list):
        return "; ".join(str(d.get("message", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


def _when(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _utc(iso: str | None) -> str:
    moment = _when(iso)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _row(listed: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A work-queue row: the complaint, with when its next deadline falls and how near it is."""
    deadline = _when(listed.get("next_deadline"))
    flags = [str(f) for f in listed.get("flags", [])]
    return {
        **listed,
        "deadline": deadline,
        "deadline_text": _utc(listed.get("next_deadline")),
        "received_text": _utc(listed.get("received")),
        "warned": deadline is not None and deadline - now <= dt.timedelta(hours=24),
        "queue": next((f.split(":", 1)[1] for f in flags if f.startswith("queue:")), ""),
        "awaiting": [f.split(":", 1)[1] for f in flags if f.startswith("awaiting:")],
        "undelivered": "undelivered" in flags,
    }


def _bar(desk: Desk, view: dict[str, Any], clock: dict[str, Any]) -> dict[str, int] | None:
    """A clock's bar in its own measure (working time for business units): the share used, and
    the share left when it is paused; None when it cannot be drawn (no start or no snapshot)."""
    from ombuds.engine.policy.durations import parse_duration
    from ombuds.engine.policy.rules import clock_calendar
    from ombuds.workflows.core.clocks import running

    if clock["status"] == "breached":
        return {"elapsed": 0, "paused": 0, "over": 100}
    due = _when(clock.get("due"))
    left = re.fullmatch(r"(\d+)h(\d+)m", clock.get("remaining") or "")
    started = next(
        (
            _when(entry.get("at"))
            for entry in view.get("log", [])
            if entry.get("action") == "clock started" and entry.get("detail", {}).get("clock") == clock["id"]
        ),
        None,
    )
    if due is None or left is None or started is None or clock["status"] not in ("running", "paused"):
        return None
    try:
        compiled = desk.store.policy(view["policy_sha"]).policy
        instance = desk.store.instance(view["calendar_sha"])
        rules = next(c for c in compiled.clocks if c.id == clock["id"])
        calendar = instance.calendar(clock_calendar(compiled, rules))
        total = running.span(
            calendar, parse_duration(clock["target"]), int(started.timestamp()), int(due.timestamp())
        )
    except Exception:  # a snapshot missing or a calendar's horizon passed: the text says it all
        return None
    remaining = int(left[1]) * 3600 + int(left[2]) * 60
    if total <= 0:
        return None
    # in steps of 5 %: the stylesheet has a width class for each (no inline style under the CSP)
    used = 5 * round(max(0, min(100, 100 * (total - remaining) / total)) / 5)
    return {"elapsed": used, "paused": 100 - used if clock["status"] == "paused" else 0, "over": 0}


def _level_index(policy: Policy, level: str | None) -> int | None:
    ids = [lv.id for lv in policy.authority]
    return ids.index(level) if level in ids else None


def _actions(
    who: tokens.Identity, policy: Policy | None, view: dict[str, Any], desk: Desk, words: _Words
) -> list[Action]:
    """A form for every event the signed-in member of staff may send (approvals apart)."""
    if policy is not None and _level_index(policy, who.level) is None:
        return []
    forms = []
    for kind in STAFF_KINDS:
        if kind == "decide_approval" or not who.may_send(kind):
            continue
        forms.append(
            Action(
                kind,
                [
                    _input(kind, name, info, policy, desk, words)
                    for name, info in BODIES[kind].model_fields.items()
                ],
            )
        )
    return forms


def _input(kind: str, name: str, info: Any, policy: Policy | None, desk: Desk, words: _Words) -> Input:
    """A field of an event's form, from the field of its typed body."""
    annotation = info.annotation
    present = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    required = info.is_required()
    options = _options(kind, name, policy, desk, words)
    hint = _HINTS.get(name)
    if options:
        return Input(name, "select", required, options)
    if bool in present:
        return Input(name, "checkbox", required, checked=info.default is True)
    if name in ("amount", "discount_percent") or float in present:
        return Input(name, "decimal", required, hint=hint)
    if int in present:
        return Input(name, "number", required)
    if dt.date in present:
        return Input(name, "date", required)
    if typing.get_origin(annotation) is list or name in _LONG:
        return Input(name, "textarea", required, hint=hint)
    return Input(name, "text", required, hint=hint)


def _options(kind: str, name: str, policy: Policy | None, desk: Desk, words: _Words) -> list[tuple[str, str]]:
    """The names a field takes from the pinned policy (or the staff directory)."""
    if kind == "assign" and name == "assignee":
        staff = desk.settings.directory.staff if desk.settings.directory else []
        return [(p.id, p.id) for p in staff]
    if policy is None:
        return []
    known: dict[tuple[str, str], Callable[[], list[tuple[str, str]]]] = {
        ("enter_stage", "stage"): lambda: [(s.id, words.stage(s.id)) for s in policy.stages],
        ("propose_compensation", "remedy"): lambda: [
            (r, words.remedy(r)) for r in policy.compensation.remedies
        ],
        ("extend", "clock"): lambda: [(c.id, c.id) for c in policy.clocks],
    }
    found = known.get((kind, name))
    return found() if found else []


def _fields_of(kind: str, posted: dict[str, str], t: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """An event's fields from its form: empty ones left out, a checkbox as true or false."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for name, info in BODIES[kind].model_fields.items():
        annotation = info.annotation
        present = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
        label = t.get(f"field_{name}", name)
        raw = posted.get(name, "").strip()
        if bool in present:
            fields[name] = raw.lower() in _TRUE
        elif typing.get_origin(annotation) is list:
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            if lines:
                fields[name] = lines
        elif not raw:
            continue
        elif name == "amount":
            amount = re.sub(r"^(\d+),(\d{1,2})$", r"\1.\2", raw)
            if not re.fullmatch(r"\d+(\.\d+)?", amount):
                problems.append(t["bad_decimal"].format(field=label))
            fields[name] = amount
        elif float in present:
            try:
                fields[name] = float(raw.replace(",", "."))
            except ValueError:
                problems.append(t["bad_decimal"].format(field=label))
        elif int in present:
            if not re.fullmatch(r"\d{1,9}", raw):
                problems.append(t["bad_number"].format(field=label))
            else:
                fields[name] = int(raw)
        else:
            fields[name] = raw
    return fields, problems


def _approvals(who: tokens.Identity, policy: Policy | None, view: dict[str, Any]) -> list[dict[str, Any]]:
    """The proposals waiting for the approval of the signed-in level (or one below it)."""
    if policy is None or not who.may_send("decide_approval"):
        return []
    mine = _level_index(policy, who.level)
    if mine is None:
        return []
    return [
        p
        for p in view.get("proposals", [])
        if p.get("status") == "needs_approval"
        and (_level_index(policy, p.get("approval_level")) or 0) <= mine
    ]


def _compensation_terms(
    who: tokens.Identity, policy: Policy | None, view: dict[str, Any], words: _Words, t: dict[str, str]
) -> list[str]:
    """What the compensation form says before anything is sent: the signed-in level's limit,
    who approves above it (as ``compensation.approval_from`` decides), and what the caps leave."""
    mine = _level_index(policy, who.level) if policy is not None else None
    if policy is None or mine is None:
        return []
    levels = policy.authority
    own = levels[mine].limits
    remedies = ", ".join(words.remedy(r) for r in own.remedies) or t["limit_none"]
    lines = [
        t["your_limit"].format(
            level=words.level(who.level), amount=words.money(own.max_amount), remedies=remedies
        )
    ]
    any_higher = policy.compensation.approval_from == "any_higher"
    low = own.max_amount
    for level in levels[mine + 1 :] if any_higher else levels[mine + 1 : mine + 2]:
        high = level.limits.max_amount
        if high > low:
            lines.append(
                t["needs_approval_range"].format(
                    low=words.money(low), high=words.money(high), level=words.level(level.id)
                )
            )
            low = high
    if any_higher or mine + 1 >= len(levels):
        lines.append(t["nobody_grants"].format(amount=words.money(low)))
    else:
        lines.append(t["above_next"].format(amount=words.money(low), level=words.level(levels[mine + 1].id)))
    lines.append(t["other_remedies"])
    caps = policy.compensation.caps
    granted = Decimal(str(view.get("compensation_total", "0")))
    proposed = sum(
        (
            Decimal(str(p.get("amount", "0")))
            for p in view.get("proposals", [])
            if p.get("status") in ("needs_approval", "pending_cap_check")
        ),
        Decimal(0),
    )
    if caps.per_complaint is not None:
        left = max(caps.per_complaint - granted - proposed, Decimal(0))
        lines.append(
            t["cap_complaint"].format(
                cap=words.money(caps.per_complaint),
                granted=words.money(granted),
                proposed=words.money(proposed),
                left=words.money(left),
            )
        )
    if caps.per_customer is not None:
        cap = words.money(caps.per_customer.amount)
        lines.append(t["cap_customer"].format(cap=cap, period=caps.per_customer.period))
    return lines


def _answered(request: Request, t: dict[str, str], view: dict[str, Any], words: _Words) -> tuple[str, str]:
    """What the last action's answer was, from the redirect after it, as a notice or as a
    problem (a refusal).  No text travels in the address: a reason is read from the decision
    log entry it names."""
    asked = request.query_params
    status, kind = asked.get("done", ""), asked.get("kind", "")
    if not _ID.match(status) or kind not in STAFF_KINDS:
        return "", ""
    kind_text = t.get(f"kind_{kind}", kind)
    seq = asked.get("seq", "")
    entry = next((e for e in view.get("log", []) if str(e.get("seq")) == seq), None)
    reason = str(entry.get("detail", {}).get("reason", "")) if entry else ""
    if status in ("rejected", "not_authorised"):
        return "", t[f"done_{status}"].format(reason=reason or status.replace("_", " "))
    if status == "needs_approval":
        return t["done_needs_approval"].format(level=words.level(asked.get("by"))), ""
    if status == "accepted" and kind in ("propose_compensation", "decide_approval"):
        return t["done_granted"], ""
    if f"done_{status}" in t:
        return t[f"done_{status}"].format(kind=kind_text), ""
    return t["done"].format(kind=kind_text, status=status.replace("_", " ")), ""


def _detail(detail: dict[str, Any], texts: dict[str, str]) -> str:
    """A log entry's detail on one line (its scalar values and the texts it refers to, shortened)."""
    pairs = [
        (k.removesuffix("_sha256"), texts.get(v, "[erased]"))
        if k.endswith("_sha256") and k != "complaint_sha256" and isinstance(v, str)
        else (k, v)
        for k, v in detail.items()
    ]
    values = dict(pairs)
    said = "; ".join(f"{k}: {v}" for k, v in values.items() if isinstance(v, str | int | float | bool))
    return said if len(said) <= 200 else said[:199] + "…"
