"""The customers' records through the HTTP API: erasure, legal holds and a copy of their data.

Only staff at a policy's highest level (or an integration given the ``records`` scope) may use
them; the customer is named in the body (``email:ana@example.org``), never in the address, so
no access log holds it."""

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field
from temporalio.client import Client

from . import tokens
from .erasure import BadName, ErasureError, Records
from .intake import Intake
from .settings import Settings


class Named(BaseModel):
    customer: str = Field(
        min_length=3,
        max_length=330,
        description="email:…, id:…, phone:… or account:…",
        examples=["email:ana@example.org"],
    )


class Request(Named):
    reason: str = Field(min_length=1, max_length=500, description="Why: the request, the case, the hold.")


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """A request naming no customer as we read one is 422; one naming no customer we know, 404."""
    try:
        yield
    except BadName as exc:
        raise HTTPException(422, {"message": str(exc), "field": "customer"}) from None
    except ErasureError as exc:
        raise HTTPException(404, {"message": str(exc)}) from None


def routes(
    app: FastAPI,
    settings: Settings,
    client: Callable[[], Awaitable[Client]],
    caller: Callable[..., tokens.Identity],
    intake: Callable[[], Intake],
) -> None:
    def keeper(who: Annotated[tokens.Identity, Depends(caller)]) -> tokens.Identity:
        levels = [[level.id for level in p.policy.authority] for p in intake().policies if p.policy.authority]
        top = {ids[-1] for ids in levels}
        # the highest level of every policy that has it: the top of a small policy is not enough
        # if another policy puts that level below its own top
        highest = who.level in top and all(ids[-1] == who.level for ids in levels if who.level in ids)
        if (who.kind == "staff" and highest) or (who.kind != "staff" and "records" in who.scopes):
            return who
        raise HTTPException(
            403,
            {
                "message": f"customers' records are for staff at a policy's highest level ({', '.join(sorted(top))})"
            },
        )

    async def records() -> Records:
        try:
            return Records(await client(), settings)
        except ErasureError as exc:
            raise HTTPException(409, {"message": str(exc)}) from None

    @app.post(
        "/customers/erase",
        summary="Erase a customer's personal data (after retention, without a hold)",
        tags=["records"],
    )
    async def erase(body: Request, who: Annotated[tokens.Identity, Depends(keeper)]) -> dict[str, Any]:
        with answered():
            outcome = await (await records()).erase(
                body.customer, f"{who.kind}:{who.user}@{who.level}", body.reason
            )
        if not outcome.erased:
            said = "; ".join(
                (f"{r.complaint_id}: " if r.complaint_id else "")
                + r.why
                + (f" ({r.rule})" if r.rule else "")
                + (f"; possible from {r.possible_from}" if r.possible_from else "")
                for r in outcome.refused
            )
            raise HTTPException(
                409, {"message": f"not erased: {said}", "refused": outcome.as_json()["refused"]}
            )
        return outcome.as_json()

    @app.post(
        "/customers/hold",
        summary="Place a legal hold: the customer's data may not be erased",
        tags=["records"],
    )
    async def hold(body: Request, who: Annotated[tokens.Identity, Depends(keeper)]) -> dict[str, Any]:
        with answered():
            complaints = (await records()).hold(body.customer, body.reason, f"{who.user}@{who.level}")
        return {"held": True, "complaints": complaints}

    @app.post("/customers/release", summary="Release a legal hold", tags=["records"])
    async def release(body: Named, who: Annotated[tokens.Identity, Depends(keeper)]) -> dict[str, Any]:
        with answered():
            complaints = (await records()).release(body.customer, f"{who.user}@{who.level}")
        return {"held": False, "complaints": complaints}

    @app.post("/customers/export", summary="Everything kept of a customer, in one document", tags=["records"])
    async def export(body: Named, who: Annotated[tokens.Identity, Depends(keeper)]) -> dict[str, Any]:
        with answered():
            return await (await records()).export(body.customer)
