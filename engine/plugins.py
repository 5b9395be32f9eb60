"""The channel plugins a worker delivers through: found by entry point, set up from the settings.

Every installed plugin of the ``ombuds.activities`` entry-point group is made with its
settings section (``[channels.<name>]``), checked by its pydantic ``Settings`` model; a
section that does not fit is a :class:`PluginSettingsError` naming the section and field.
``ombuds plugins`` lists them; ``ombuds validate`` warns about a channel none of them serves.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from ombuds.activities.plugin import ChannelPlugin, DeliveryContext, discover

from . import identity
from .policy.errors import PolicyError
from .policy.loader import Document
from .policy.validate import Validated
from .settings import Settings, settings_file


class PluginSettingsError(ValueError):
    """A plugin's settings section that its model refuses, or a plugin that cannot load."""


@dataclass
class Installed:
    name: str
    plugin: ChannelPlugin
    configured: bool
    settings: BaseModel


def delivery_context(settings: Settings) -> DeliveryContext:
    """The home, and a secret every worker of it shares (derived from the ledger key)."""
    secret = hmac.new(
        identity.ledger_key(settings.ledger_key, settings.home), b"delivery", hashlib.sha256
    ).digest()
    return DeliveryContext(home=settings.home, secret=secret)


def load(settings: Settings) -> dict[str, Installed]:
    """Every installed plugin, made with its settings section."""
    out: dict[str, Installed] = {}
    try:
        classes = discover()
    except Exception as exc:  # an installed plugin whose import fails
        raise PluginSettingsError(f"a channel plugin could not be loaded: {exc}") from None
    for name, cls in sorted(classes.items()):
        section = settings.channels.get(name, {})
        model: type[BaseModel] = getattr(cls, "Settings", BaseModel)
        unknown = sorted(set(section) - set(model.model_fields))
        if unknown:
            hints = [
                f"{key} (did you mean {close[0]}?)"
                if (close := difflib.get_close_matches(key, list(model.model_fields), 1))
                else key
                for key in unknown
            ]
            raise PluginSettingsError(
                f"[channels.{name}] in {settings_file()}: unknown setting {', '.join(hints)}; "
                f"{name} has: {', '.join(model.model_fields) or 'no settings'}"
            )
        try:
            plugin_settings = model.model_validate(section)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or name}: {e['msg']}" for e in exc.errors()
            )
            raise PluginSettingsError(
                f"[channels.{name}] in {settings_file()} (or OMBUDS_CHANNELS__{name.upper()}__*): {problems}"
            ) from None
        out[name] = Installed(name, cls(plugin_settings), name in settings.channels, plugin_settings)
    return out


def served_channels() -> dict[str, str]:
    """Each channel an installed plugin serves, with the plugin's name (without making them)."""
    served: dict[str, str] = {}
    try:
        classes = discover()
    except Exception:
        return served
    for name, cls in sorted(classes.items()):
        for channel in getattr(cls, "channels", ()):
            served.setdefault(channel, name)
    return served


def channel_warnings(doc: Document, served: dict[str, str]) -> list[PolicyError]:
    """A warning at each channel of a policy that no plugin installed here serves.

    A warning, not an error: the machine that validates need not have every plugin that
    the workers have."""
    found: list[PolicyError] = []
    if not isinstance(doc.data, dict):
        return found
    for loc, value in _channel_places(doc.data):
        if value not in served:
            found.append(
                doc.error(
                    loc,
                    f'no channel plugin installed in {sys.prefix} serves "{value}"',
                    "channels served here: "
                    + (", ".join(sorted(served)) or "none")
                    + "; ombuds plugins lists the plugins",
                    severity="warning",
                    code="reference",
                )
            )
    return found


def sms_warnings(validated: Validated, doc: Document, max_segments: int) -> list[PolicyError]:
    """A warning at each setting that sends a template by SMS first, where a locale's text (with
    sample values) takes more than ``max_segments`` segments: the SMS channel refuses it, and the
    message goes by the next channel, if any."""
    from ombuds.activities.sms import plain, segments

    from .policy.validate import sample_text

    policy, templates = validated.policy, validated.templates
    if policy is None or templates is None:
        return []
    notes = policy.notifications
    sites: list[tuple[tuple[str | int, ...], str]] = [
        (("notifications", "events", event, "template"), note.template)
        for event, note in notes.events.items()
        if (note.channels[:1] or [notes.preferred]) == ["sms"] and note.template
    ]
    follow = policy.follow_up
    for part, item in (("survey", follow.survey), ("thank_you", follow.thank_you)):
        if item is not None and item.channel == "sms":
            sites.append((("follow_up", part, "template"), item.template))
    clocks, dates = tuple(c.id for c in policy.clocks), tuple(d.id for d in policy.dates)
    found = []
    for loc, name in sites:
        for locale, template in sorted(templates.templates.get(name, {}).items()):
            try:
                _subject, body = sample_text(template.subject, template.body, clocks, dates, locale)
            except Exception:  # reported by validation already
                continue
            encoding, parts = segments(plain(body.strip()))
            if parts > max_segments:
                found.append(
                    doc.error(
                        loc,
                        f'template "{name}" ({locale}) takes {parts} {encoding} SMS segments; the SMS '
                        f"channel sends at most {max_segments}",
                        "shorten it, or send it by another channel first ([channels.sms] max_segments "
                        "sets the limit)",
                        severity="warning",
                        code="template",
                    )
                )
    return found


def sms_limit() -> int:
    """The segments the SMS channel sends at most, as the settings here say."""
    from ombuds.activities.sms import SmsSettings

    try:
        return SmsSettings.model_validate(Settings().channels.get("sms", {})).max_segments
    except ValidationError:
        return SmsSettings().max_segments


def _channel_places(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    places: list[tuple[tuple[str | int, ...], str]] = []
    notes = data.get("notifications")
    if isinstance(notes, dict):
        if isinstance(notes.get("preferred"), str):
            places.append((("notifications", "preferred"), notes["preferred"]))
        places += _names(("notifications", "fallback"), notes.get("fallback"))
        events = notes.get("events")
        for event, note in events.items() if isinstance(events, dict) else ():
            if isinstance(note, dict):
                places += _names(("notifications", "events", event, "channels"), note.get("channels"))
        quiet = notes.get("quiet_hours")
        if isinstance(quiet, dict):
            places += _names(("notifications", "quiet_hours", "channels"), quiet.get("channels"))
    follow = data.get("follow_up")
    for part, item in follow.items() if isinstance(follow, dict) else ():
        if isinstance(item, dict) and isinstance(item.get("channel"), str):
            places.append((("follow_up", part, "channel"), item["channel"]))
    return places


def _names(loc: tuple[str | int, ...], value: Any) -> list[tuple[tuple[str | int, ...], str]]:
    return (
        [((*loc, i), v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []
    )


def masked(settings: BaseModel) -> dict[str, Any]:
    """A plugin's settings to show: secrets as ``********``."""
    shown: dict[str, Any] = {}
    for key, value in settings:
        if isinstance(value, SecretStr):
            shown[key] = "********" if value.get_secret_value() else ""
        elif key.lower() in ("password", "token", "secret", "api_key") and value:
            shown[key] = "********"
        else:
            shown[key] = None if value is None else str(value)
    return shown
