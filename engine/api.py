"""The HTTP API every person and integration goes through (``ombuds serve``).

Staff and integrations call it with a bearer token (:mod:`ombuds.engine.tokens`); the actor of
every event is made from the verified token, never from the request, and a level above the
token's is refused.  Each event kind has its own typed body (the event's fields without ``kind``
and ``actor``), so the OpenAPI document (``schemas/openapi.json``) lists every kind with its
fields.  A name the pinned policy does not know (a stage, a remedy, a clock, a level) is refused
with the valid ones; what the case refuses comes back as 409 with its reason; nothing the caller
sends makes a 500.

No CORS headers are sent (browsers on other origins are refused); bodies are at most
``MAX_BODY`` bytes; complaint data never goes into URLs or the log.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, which name
# the dependencies and body models made inside create_app
import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

from ombuds.workflows import names, search
from ombuds.workflows.core import Actor, Answer, Event, Rejected, bounds
from ombuds.workflows.core.events import KINDS, missing_fields

from . import tokens
from .event_bodies import BODIES, CUSTOMER_ONLY, names_across
from .inbound import attachments_of
from .intake import Intake, IntakeError, check_received, status_now
from .limits import RateLimit
from .policy.errors import PolicyInvalid, known_names_hint
from .policy.model import Complaint, Policy
from .policy.store import Store, StoreError
from .settings import Settings
from .temporal import delayed_messages

#: Answers of Temporal that a moment later may be otherwise.
TRANSIENT = (RPCStatusCode.INTERNAL, RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)

log = logging.getLogger("ombuds.api")

#: The largest request body, in bytes (a complaint's text is at most 100,000 characters).
MAX_BODY = 1_000_000
#: A filter's value: an id of the policy language (a status, a stage, a level, ...).
_WORD = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
#: A complaint id, as intake accepts one.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class Me(BaseModel):
    """Who the token says the caller is."""

    user: str
    level: str
    kind: str
    scopes: list[str]
    expires: str


class Created(BaseModel):
    """A submitted complaint: its id, the policy it runs under, and whether intake refused it."""

    id: str
    policy: str
    policy_version: str
    policy_sha256: str
    started: bool
    duplicate: bool = False
    refused: str | None = None


def _problem(status: int, message: str, **extra: Any) -> HTTPException:
    return HTTPException(status_code=status, detail={"message": message, **extra})


def create_app(
    settings: Settings,
    *,
    connect: Callable[[], Awaitable[Client]] | None = None,
    intake: Intake | None = None,
    key: bytes | None = None,
) -> FastAPI:
    """The API for one deployment: its settings, a way to reach Temporal, the intake."""
    app = FastAPI(
        title="ombuds",
        version="1",
        summary="Complaints, their status and the events staff send, with the actor from the token.",
    )
    verifier = tokens.Verifier(
        key or tokens.secret(settings.api_secret, settings.home), settings.oidc, settings.directory
    )
    bearer = HTTPBearer(auto_error=False)
    store = Store(settings.store_dir)
    clients: list[Client] = []
    intake_limit = RateLimit(settings.intake_per_minute, per_seconds=60)
    #: The names the list filters accept, from the intake's policies (found once).
    filter_names: dict[str, list[str]] = {}

    async def client() -> Client:
        """The Temporal client, connected once; 503 while Temporal cannot be reached."""
        if not clients:
            from .temporal import connect as default_connect

            try:
                clients.append(await (connect() if connect is not None else default_connect(settings)))
            except Exception as exc:
                reason = f"Temporal is not reachable: {type(exc).__name__}"
                raise HTTPException(503, {"message": reason}) from None
        return clients[0]

    def the_intake() -> Intake:
        nonlocal intake
        if intake is None:
            try:
                intake = Intake(settings)
            except (IntakeError, PolicyInvalid) as exc:
                raise HTTPException(503, {"message": f"no policy can be used: {exc}"}) from None
        return intake

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> tokens.Identity:
        """The verified caller (a plain function: FastAPI runs it on a thread, as an OIDC
        provider's keys may have to be fetched)."""
        if credentials is None:
            raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        try:
            return verifier.verify(credentials.credentials)
        except tokens.TokenError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": {"message": f"a request body is at most {MAX_BODY:,} bytes"}}, 413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems: list[dict[str, str]] = []
        for error in exc.errors():
            loc = error.get("loc", ())
            where = ".".join(str(p) for p in loc if p != "body" and p not in ("str", "int"))
            message = str(error.get("msg", "invalid"))
            if where == "actor" or where.endswith(".actor"):
                message = "the actor comes from your token: leave it out"
            elif where == "amount" and error.get("type") in ("string_type", "int_type"):
                message = 'an amount is text ("49.99") or a whole number, never a number with a fraction'
            if {"field": where, "message": message} not in problems:
                problems.append({"field": where, "message": message})
        return JSONResponse({"detail": problems}, 422)

    @app.get("/healthz", summary="The API answers")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/readyz", summary="Temporal is reachable")
    async def readyz() -> JSONResponse:
        try:
            await (await client()).workflow_service.get_system_info(_system_info_request())
        except HTTPException as exc:
            return JSONResponse(
                {
                    "ok": False,
                    "reason": str(getattr(exc, "detail", {}).get("message", "Temporal is not reachable")),
                },
                503,
            )
        except Exception as exc:
            reason = f"Temporal is not reachable: {type(exc).__name__}"
            return JSONResponse({"ok": False, "reason": reason}, 503)
        return JSONResponse({"ok": True})

    @app.get("/me", summary="Who the token says the caller is")
    async def me(who: Annotated[tokens.Identity, Depends(caller)]) -> Me:
        return Me(user=who.user, level=who.level, kind=who.kind, scopes=list(who.scopes), expires=who.expires)

    @app.post("/complaints", status_code=201, summary="Submit a complaint (intake)")
    async def submit(
        complaint: Complaint,
        who: Annotated[tokens.Identity, Depends(caller)],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
        simulated: Annotated[
            bool,
            Query(
                description="Run it on its own clock from received_at (a what-if at its own dates); staff only."
            ),
        ] = False,
    ) -> Created:
        if not who.may_send("submit"):
            raise _problem(403, "this token may not submit complaints")
        if simulated and who.kind != "staff":
            raise _problem(403, "only staff run simulated complaints")
        wait = intake_limit.wait(who.user)
        if wait:
            log.warning("intake rate limit: %s", who.user)
            raise HTTPException(
                429,
                {
                    "message": f"too many complaints from this caller: at most {settings.intake_per_minute} a minute"
                },
                headers={"Retry-After": str(wait)},
            )
        try:
            if not simulated:
                check_received(complaint)
        except IntakeError as exc:
            raise _problem(422, str(exc)) from None
        if complaint.id is None and idempotency_key:
            # a retried submission with the same key is the same complaint
            digest = hashlib.sha256(f"{who.user}\0{idempotency_key}".encode()).hexdigest()
            complaint = complaint.model_copy(update={"id": f"C-{digest[:20]}"})
        try:
            done = await the_intake().submit(await client(), complaint, simulated=simulated)
        except IntakeError as exc:
            raise _problem(422, str(exc)) from None
        duplicate = not done.started and "already" in done.reason
        if not done.started and not duplicate:
            raise _problem(422, done.reason)
        return Created(
            id=done.complaint_id,
            policy=done.policy.id,
            policy_version=done.policy.version,
            policy_sha256=done.policy.sha256,
            started=done.started,
            duplicate=duplicate,
            refused=done.refused or None,
        )

    async def view_of(complaint_id: str) -> dict[str, Any]:
        handle = (await client()).get_workflow_handle(complaint_id)
        try:
            view = await handle.query(names.STATUS_QUERY)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise _problem(404, f"no complaint {complaint_id}") from None
            raise _problem(503, f"Temporal: {exc.message}") from None
        except TemporalError as exc:  # the case cannot answer now (a task failing, a worker behind)
            raise _problem(503, f"the case cannot answer now: {type(exc).__name__}") from None
        return dict(view)

    @app.get("/complaints/{complaint_id}", summary="A complaint's status, clocks, promises and log")
    async def status(complaint_id: str, who: Annotated[tokens.Identity, Depends(caller)]) -> dict[str, Any]:
        """Status, stage, level, each clock with the time left as of now, promises, proposals,
        and the decision log (each entry with its rule and the pinned policy's line)."""
        from ombuds.workflows.core import StatusView

        _valid_id(complaint_id)
        view = StatusView.model_validate(await view_of(complaint_id))
        shown: dict[str, Any] = status_now(store, view).model_dump(mode="json")
        if who.kind != "staff":  # an integration works the case; who complained is staff's to read
            shown["customer"] = None
            shown["texts"] = {}
        handle = (await client()).get_workflow_handle(complaint_id)
        shown["log"] = await handle.query(names.LOG_QUERY)
        shown["delayed_messages"] = await delayed_messages(handle)
        shown["attachments"] = attachments_of(settings.home, complaint_id)
        return shown

    @app.get("/complaints", summary="Complaints, filtered and paginated")
    async def listing(
        who: Annotated[tokens.Identity, Depends(caller)],
        status: Literal["open", "resolved", "closed", "refused", "withdrawn"] | None = None,
        stage: Annotated[str | None, Query(pattern=_WORD)] = None,
        level: Annotated[str | None, Query(pattern=_WORD)] = None,
        severity: Annotated[str | None, Query(pattern=_WORD)] = None,
        category: Annotated[str | None, Query(pattern=_WORD)] = None,
        channel: Annotated[str | None, Query(pattern=_WORD)] = None,
        policy: Annotated[str | None, Query(pattern=_WORD)] = None,
        queue: Annotated[str | None, Query(pattern=_WORD)] = None,
        assignee: Annotated[str | None, Query(pattern=_WORD)] = None,
        awaiting: Annotated[
            str | None,
            Query(pattern=_WORD, description="A compensation proposal awaits this level's approval."),
        ] = None,
        undelivered: Annotated[
            bool, Query(description="Only those with a message that could not be delivered.")
        ] = False,
        breached: bool | None = None,
        received_after: dt.datetime | None = None,
        received_before: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        page: Annotated[
            str | None, Query(max_length=2000, description="The `next_page` of the last answer.")
        ] = None,
    ) -> dict[str, Any]:
        """Complaints (never the customers' internal ledgers), the next deadline first known;
        ``next_page`` continues the list."""
        if not filter_names:
            # no policy to check the names against: list all the same
            with contextlib.suppress(HTTPException):
                filter_names.update(names_across(the_intake()))
        if filter_names:
            _known_across(filter_names, stage=stage, level=level, awaiting=awaiting, queue=queue)
        clauses = [f"WorkflowType = '{names.COMPLAINT_WORKFLOW}'"]
        for key, value in (
            (search.STATUS, status),
            (search.STAGE, stage),
            (search.LEVEL, level),
            (search.SEVERITY, severity),
            (search.CATEGORY, category),
            (search.CHANNEL, channel),
            (search.POLICY_ID, policy),
            (search.ASSIGNEE, assignee),
            (search.FLAGS, f"queue:{queue}" if queue else None),
            (search.FLAGS, f"awaiting:{awaiting}" if awaiting else None),
        ):
            if value is not None:
                clauses.append(f"{key.name} = '{value}'")
        if undelivered:
            clauses.append(f"{search.FLAGS.name} = 'undelivered'")
        if breached is not None:
            clauses.append(f"{search.SLA_BREACHED.name} = {str(breached).lower()}")
        for bound, op in ((received_after, ">="), (received_before, "<")):
            if bound is not None:
                if bound.tzinfo is None:
                    raise _problem(422, "received_after and received_before need a UTC offset")
                clauses.append(f"StartTime {op} '{bound.astimezone(dt.UTC).isoformat()}'")
        listed = await listed_page(" AND ".join(clauses), limit, page)
        rows = []
        for execution in listed.current_page or []:
            attributes = execution.typed_search_attributes
            deadline = attributes.get(search.NEXT_DEADLINE)
            rows.append(
                {
                    "id": execution.id,
                    "status": attributes.get(search.STATUS),
                    "stage": attributes.get(search.STAGE),
                    "level": attributes.get(search.LEVEL),
                    "policy": attributes.get(search.POLICY_ID),
                    "assignee": attributes.get(search.ASSIGNEE),
                    "flags": attributes.get(search.FLAGS) or [],
                    "breached": attributes.get(search.SLA_BREACHED),
                    "next_deadline": deadline.isoformat() if deadline else None,
                    "received": execution.start_time.isoformat() if execution.start_time else None,
                }
            )
        return {"complaints": rows, "next_page": _next_page(listed)}

    @app.get("/ledgers", summary="The customers' internal ledgers, apart from complaints")
    async def ledgers(
        who: Annotated[tokens.Identity, Depends(caller)],
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        page: Annotated[
            str | None, Query(max_length=2000, description="The `next_page` of the last answer.")
        ] = None,
    ) -> dict[str, Any]:
        """The workflows that keep each customer's compensation caps: their ids (digests, never
        the customer's own ids), whether they run, and since when."""
        listed = await listed_page(f"WorkflowType = '{names.LEDGER_WORKFLOW}'", limit, page)
        rows = [
            {
                "id": execution.id,
                "status": execution.status.name.lower() if execution.status else None,
                "started": execution.start_time.isoformat() if execution.start_time else None,
            }
            for execution in listed.current_page or []
        ]
        return {"ledgers": rows, "next_page": _next_page(listed)}

    async def listed_page(query: str, limit: int, page: str | None) -> Any:
        """One page of the workflows ``query`` finds, ``page`` being a ``next_page`` we gave."""
        try:
            token = base64.b64decode(page.encode(), altchars=b"-_", validate=True) if page else None
        except (ValueError, binascii.Error):
            raise _problem(422, "page is not a page token of this list") from None
        for attempt in range(3):
            listed = (await client()).list_workflows(query, page_size=limit, next_page_token=token)
            try:
                await listed.fetch_next_page()
                return listed
            except RPCError as exc:
                # a visibility store that is busy for a moment (SQLite under load) is asked again
                if exc.status in TRANSIENT and attempt < 2:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                raise _problem(
                    422 if exc.status == RPCStatusCode.INVALID_ARGUMENT else 503, exc.message
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    #: Each complaint's pinned policy (it never changes for an id), so an event costs one call.
    pinned: dict[str, str] = {}

    async def policy_of(complaint_id: str) -> Policy | None:
        sha = pinned.get(complaint_id)
        if sha is None:
            sha = str((await view_of(complaint_id)).get("policy_sha", ""))
            if len(pinned) >= 10_000:
                pinned.clear()
            pinned[complaint_id] = sha
        try:
            return store.policy(sha).policy
        except (StoreError, OSError, ValueError):
            return None

    async def send(
        complaint_id: str, kind: str, fields: dict[str, Any], who: tokens.Identity, level: str | None
    ) -> Answer:
        _valid_id(complaint_id)
        if kind in CUSTOMER_ONLY:
            raise _problem(403, f"{kind} is the customer's: they send it through their case's link")
        if not who.may_send(kind):
            raise _problem(403, f"this token may not send {kind} (its scopes: {', '.join(who.scopes)})")
        missing = missing_fields(kind, fields)
        if missing:
            raise _problem(422, f"{kind} needs {', '.join(missing)}", field=missing[0])
        policy = await policy_of(complaint_id)
        acting = _level(policy, who, level)
        if policy is not None:
            _known_names(policy, kind, fields)
        actor = Actor(kind="staff", id=who.user, level=acting)
        try:
            event = Event.model_validate({**fields, "kind": kind, "actor": actor.model_dump()})
            bounds.check_event(event)
        except Rejected as exc:
            raise _problem(422, str(exc)) from None
        return await act(complaint_id, event)

    async def act(complaint_id: str, event: Event) -> Answer:
        """The case's answer to an event made and checked here (409 when it refuses it)."""
        handle = (await client()).get_workflow_handle(complaint_id)
        try:
            answer: Answer = await handle.execute_update(names.ACT_UPDATE, event, result_type=Answer)
            return answer
        except WorkflowUpdateFailedError as exc:
            reason = getattr(exc.cause, "message", None) or str(exc.cause)
            if reason == "the case is closed":  # closed, its last messages still going out
                raise _closed(complaint_id) from None
            raise _problem(409, f"refused: {reason}") from None
        except RPCError as exc:
            # the case ended while the event waited, or before it came
            if "already completed" in exc.message or "aborted by closing workflow" in exc.message:
                pinned.pop(complaint_id, None)
                raise _closed(complaint_id) from None
            raise _problem(404 if exc.status == RPCStatusCode.NOT_FOUND else 503, exc.message) from None
        except TemporalError as exc:  # the update timed out or was cancelled: the case may not have it
            raise _problem(
                503, f"the case did not answer in time ({type(exc).__name__}); try again"
            ) from None

    for kind, body in BODIES.items():
        if kind in CUSTOMER_ONLY:
            continue
        _event_route(app, kind, body, send, caller)

    @app.post(
        "/complaints/{complaint_id}/reopen",
        summary="Reopen a resolved complaint, or a closed one as a new linked complaint",
    )
    async def reopen(complaint_id: str, who: Annotated[tokens.Identity, Depends(caller)]) -> dict[str, Any]:
        view = await view_of(complaint_id)
        if view.get("status") == "closed":
            try:
                done = await the_intake().reopen(await client(), complaint_id, dt.datetime.now(dt.UTC))
            except IntakeError as exc:
                raise _problem(409, str(exc)) from None
            return {"status": "reopened", "id": done.complaint_id}
        answer = await send(complaint_id, "reopen", {}, who, None)
        return {**answer.model_dump(mode="json"), "id": complaint_id}

    async def messages(complaint_id: str) -> list[dict[str, Any]]:
        handle = (await client()).get_workflow_handle(complaint_id)
        try:
            sent: list[dict[str, Any]] = await handle.query(names.MESSAGES_QUERY)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return []
            raise _problem(503, f"Temporal: {exc.message}") from None
        except WorkflowQueryFailedError:
            return []  # a worker that does not know the query yet
        except TemporalError as exc:
            raise _problem(503, f"the case cannot answer now: {type(exc).__name__}") from None
        return sent

    from . import delivery_status, records_api
    from .web.mount import mount
    from .web.pages import Desk

    delivery_status.routes(app, settings, client)
    records_api.routes(app, settings, client, caller, the_intake)

    mount(
        app,
        Desk(
            settings=settings,
            store=store,
            verifier=verifier,
            client=client,
            intake=the_intake,
            view=view_of,
            case=status,
            messages=messages,
            act=act,
            send=send,
            listing=listing,
            policy_of=policy_of,
        ),
    )
    return app


def _event_route(
    app: FastAPI,
    kind: str,
    body: type[BaseModel],
    send: Callable[..., Awaitable[Answer]],
    caller: Callable[..., tokens.Identity],
) -> None:
    """``POST /complaints/{id}/events/<kind>`` with that kind's typed body."""

    async def route(
        complaint_id: str,
        fields: body,  # type: ignore[valid-type]
        who: Annotated[tokens.Identity, Depends(caller)],
        level: Annotated[
            str | None, Query(max_length=200, description="Act at this level, at most the token's.")
        ] = None,
    ) -> Answer:
        sent = fields.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
        return await send(complaint_id, kind, sent, who, level)

    model = KINDS[kind]
    app.post(
        f"/complaints/{{complaint_id}}/events/{kind}",
        summary=f"Send {kind}",
        description=(model.__doc__ or "").strip(),
        name=f"event_{kind}",
        tags=["events"],
    )(route)


def _valid_id(complaint_id: str) -> None:
    if not _ID.match(complaint_id):
        raise _problem(404, "no such complaint")


def _level(policy: Policy | None, who: tokens.Identity, level: str | None) -> str:
    """The level the caller acts at: the token's, or a lower one it names (403 above it)."""
    if level is None or level == who.level:
        return who.level
    if policy is None:
        raise _problem(403, f"you act at {who.level}")
    ids = [lv.id for lv in policy.authority]
    if level not in ids:
        raise _unknown("level", level, ids, "levels")
    if who.level not in ids or ids.index(level) > ids.index(who.level):
        log.warning("refused: %s at %s asked to act at %s", who.user, who.level, level)
        raise _problem(403, f"your token acts at {who.level}, not above it ({level})")
    return level


#: The fields that name something of the pinned policy, by event kind.
NAMED = {
    "enter_stage": ("stage", "stages"),
    "propose_compensation": ("remedy", "remedies"),
    "extend": ("clock", "clocks"),
}


def _known_names(policy: Policy, kind: str, fields: dict[str, Any]) -> None:
    named = NAMED.get(kind)
    if named is None or fields.get(named[0]) is None:
        return
    field, what = named
    valid = {
        "stages": [s.id for s in policy.stages],
        "remedies": list(policy.compensation.remedies),
        "clocks": [c.id for c in policy.clocks],
    }[what]
    value = str(fields[field])
    if value not in valid:
        raise _unknown(field, value, valid, what)


def _closed(complaint_id: str) -> HTTPException:
    return _problem(
        409,
        f"refused: complaint {complaint_id} is closed; reopen it "
        f"(POST /complaints/{complaint_id}/reopen) to work it again",
    )


def _next_page(listed: Any) -> str | None:
    more = listed.next_page_token
    return base64.urlsafe_b64encode(more).decode() if more else None


def _unknown(field: str, value: str, valid: list[str], what: str) -> HTTPException:
    """422 for a name the policies do not know, with the valid ones and "did you mean"."""
    hint = known_names_hint(value, valid, what)
    return _problem(422, f'unknown {field} "{value}"', field=field, valid=valid, hint=hint)


def _known_across(known: dict[str, list[str]], **named: str | None) -> None:
    """A filter's stage, level or queue is one some policy has (422 with the valid ones): a
    misspelt one would list nothing and say nothing."""
    for name, value in named.items():
        if value is not None and known[name] and value not in known[name]:
            raise _unknown(
                name, value, known[name], {"stage": "stages", "queue": "queues"}.get(name, "levels")
            )


def _system_info_request() -> Any:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()


def openapi_text() -> str:
    """The OpenAPI document, as checked in under ``schemas/openapi.json``."""
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home)), key=b"-" * 32)
        return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
