"""The body of each event kind as staff send it (the event's fields without ``kind`` and
``actor``: the actor comes from the token), and the names the list filters accept.

Shared by the HTTP API and the staff console, which builds a form from each body.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model
from pydantic.fields import FieldInfo

from ombuds.workflows.core.events import KINDS, EventModel

from .intake import Intake

#: Events staff may not send: they are the customer's, through their case's signed links.
CUSTOMER_ONLY = frozenset(kind for kind, model in KINDS.items() if model.sender == "customer")
#: The kinds staff send, each on its own path.
STAFF_KINDS = tuple(kind for kind in KINDS if kind not in CUSTOMER_ONLY)


def body_model(model: type[EventModel]) -> type[BaseModel]:
    """An event kind's body: its fields without ``kind`` and ``actor`` (the token is the actor)."""
    fields: dict[str, Any] = {
        name: _as_sent(field, required=name in model.required)
        for name, field in model.model_fields.items()
        if name not in ("kind", "actor")
    }
    return create_model(
        f"{model.__name__}Body",
        __config__=ConfigDict(extra="forbid"),
        __doc__=model.__doc__ or f"The fields of the {model.model_fields['kind'].default} event.",
        **fields,
    )


def _as_sent(field: FieldInfo, *, required: bool) -> tuple[Any, Any]:
    """A field of a body (a required one without a default); an amount as the caller writes it:
    text (``"49.99"``) or a whole number, never a JSON number with a fraction, which the JSON
    parser would have read through a float (the event reads the text as a decimal and checks
    it, sign included)."""
    if field.annotation in (Decimal, Decimal | None):
        return StrictStr | StrictInt | None, Field(None, description=field.description)
    if required:
        present = [a for a in typing.get_args(field.annotation) if a is not type(None)]
        return (present[0] if present else field.annotation), Field(description=field.description)
    return field.annotation, field


BODIES: dict[str, type[BaseModel]] = {kind: body_model(model) for kind, model in KINDS.items()}


def names_across(intake: Intake) -> dict[str, list[str]]:
    """The stages, levels and queues some policy of the intake has, for the list filters."""
    policies = [p.policy for p in intake.policies]
    levels = sorted({lv.id for p in policies for lv in p.authority})
    return {
        "stage": sorted({s.id for p in policies for s in p.stages}),
        "level": levels,
        "awaiting": levels,
        "queue": sorted({r.set.queue for p in policies for r in p.classification if r.set.queue}),
    }
