"""``ombuds new ID --like retail --locales en,de``: a new policy to edit, not to type.

It is a shipped (or any) policy renamed — its id, a first version, a title to change — with its
own template folder: every template the policy sends, in each locale asked for (a locale the
model lacks gets the model's default text, marked to translate), each ending with a comment
listing the variables its messages carry.  It validates at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .policy.errors import PolicyInvalid
from .policy.validate import validate_file

ID = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


class NewPolicyError(Exception):
    """The new policy cannot be written: why."""


def new_policy(policy_id: str, like: Path, locales: list[str], into: Path) -> list[Path]:
    """Write ``<into>/<id>.yaml`` and ``<into>/templates/<id>/``; the files written."""
    if not ID.match(policy_id):
        raise NewPolicyError(
            f'"{policy_id}" is not a policy id (lower case letters, digits, - and _; a letter first)'
        )
    target = into / f"{policy_id}.yaml"
    folder = into / "templates" / policy_id
    if target.exists() or folder.exists():
        raise NewPolicyError(f"{target if target.exists() else folder} exists already: choose another id")
    validated = validate_file(like)
    if not validated.ok or validated.policy is None or validated.templates is None:
        raise PolicyInvalid(validated.report)
    model = validated.policy
    locales = locales or list(model.policy.locales or [model.policy.locale])
    default = locales[0]
    text = like.read_text("utf-8")
    text = _set(text, "id", policy_id)
    text = _set(text, "version", '"0.1"')
    text = _set(
        text, "title", json.dumps(f"{_title(model.policy.title)} (new policy {policy_id}, change this title)")
    )
    text = _set(text, "locale", default)
    text = re.sub(r"(?m)^(  locales:).*$", rf"\1 [{', '.join(locales)}]", text, count=1)
    text = re.sub(r"(?m)^(  dir:).*$", rf"\1 templates/{policy_id}", text, count=1)
    if model.policy.locale not in locales:
        # the model's fallback order names its own locales: the new one falls back to its default
        text = re.sub(r"(?m)^(  locale_fallback:).*$", rf"\1 [{default}]", text, count=1)
    header = (
        f"# A new policy, made with `ombuds new {policy_id} --like {like.stem} --locales {','.join(locales)}`:\n"
        f"# edit it (and its templates in templates/{policy_id}/), then `ombuds validate` and `ombuds test`.\n"
    )
    written = [target]
    folder.mkdir(parents=True)
    templates = validated.templates
    for name in sorted(templates.templates):
        by_locale = templates.templates[name]
        carried = sorted(templates.carries.get(name, set()))
        for locale in locales:
            known = [by_locale[x] for x in [locale, *locales, model.policy.locale] if x in by_locale]
            source = known[0] if known else next(iter(by_locale.values()))
            note = "" if source.locale == locale else f"TRANSLATE from {source.locale} into {locale}. "
            listing = (
                f"{{# {note}This message carries: {', '.join(carried) or 'complaint, customer, case'} #}}\n"
            )
            path = folder / f"{name}.{locale}.txt"
            path.write_text(f"Subject: {source.subject}\n\n{source.body.rstrip()}\n{listing}", "utf-8")
            written.append(path)
    target.write_text(header + text, "utf-8")
    return written


def _title(title: object) -> str:
    """A title as one text (a title may be one text per locale)."""
    if isinstance(title, dict):
        return str(next(iter(title.values()), ""))
    return str(title)


def _set(text: str, key: str, value: str) -> str:
    """Set ``policy.<key>`` (the first ``  key:`` line under ``policy:``)."""
    start = text.find("\npolicy:\n")
    if start < 0:
        raise NewPolicyError("the model policy has no `policy:` section at the left margin")
    head, tail = text[:start], text[start:]
    return head + re.sub(rf"(?m)^(  {key}:).*$", rf"\1 {value}", tail, count=1)
