"""Settings in one place: a TOML settings file, and environment variables that override it.

The file is ``$OMBUDS_SETTINGS``, else ``settings.toml`` in the home (``$OMBUDS_HOME``, by
default ``.ombuds``); a missing file is no error.  Every key can be set by an environment
variable with the ``OMBUDS_`` prefix, nested keys joined by ``__``
(``OMBUDS_CHANNELS__EMAIL__HOST``).  The file holds the staff directory (people, levels and
queues, with their addresses) and each channel plugin's settings in its own section
(``[channels.email]``); see docs/plugins.md.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ombuds.workflows.core.publications import EVENT_TYPES


def settings_file() -> Path:
    """Where the settings file is read from."""
    named = os.environ.get("OMBUDS_SETTINGS")
    if named:
        return Path(named)
    return Path(os.environ.get("OMBUDS_HOME") or ".ombuds") / "settings.toml"


class StaffMember(BaseModel):
    """A person of the staff directory; ``id`` is the id staff act under (``staff:<id>@<level>``)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    levels: list[str] = Field(default_factory=list, description="Authority levels this person holds.")
    queues: list[str] = Field(default_factory=list, description="Queues this person works.")

    @property
    def address(self) -> str | None:
        return email.utils.formataddr((self.name, self.email)) if self.email else None


class Team(BaseModel):
    """A level or a queue: a team address, told as well as (or instead of) its people."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None


class Directory(BaseModel):
    """Who works where, and how they are reached: staff messages are addressed from here."""

    staff: list[StaffMember] = Field(default_factory=list)
    levels: dict[str, Team] = Field(default_factory=dict)
    queues: dict[str, Team] = Field(default_factory=dict)

    def person(self, staff_id: str) -> StaffMember | None:
        return next((p for p in self.staff if p.id == staff_id), None)

    def level_addresses(self, level: str) -> list[str]:
        """The addresses a message to a level goes to: the level's team address and its people."""
        team = self.levels.get(level)
        found = [email.utils.formataddr((team.name or level, team.email))] if team and team.email else []
        found += [p.address for p in self.staff if level in p.levels and p.address]
        return found

    def queue_addresses(self, queue: str) -> list[str]:
        team = self.queues.get(queue)
        found = [email.utils.formataddr((team.name or queue, team.email))] if team and team.email else []
        found += [p.address for p in self.staff if queue in p.queues and p.address]
        return found


class Oidc(BaseModel):
    """An OIDC provider whose tokens the API accepts: verified against its JWKS."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(description="The issuer (`iss`), e.g. https://login.example.com/realms/staff.")
    audience: str = Field(description="The audience (`aud`) the tokens are issued for.")
    jwks_url: str | None = Field(
        None, description="Where the signing keys are; else read from the issuer's openid-configuration."
    )
    level_claim: str = Field("ombuds_level", description="The claim carrying the authority level.")
    user_claim: str = Field(
        "sub", description="The claim carrying the staff id (e.g. preferred_username, email)."
    )
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    client_id: str | None = Field(
        None,
        description="The console's client at the provider: with it, the console's sign-in page offers "
        "signing in there (the authorization code flow with PKCE).",
    )
    client_secret: str | None = Field(None, description="The client's secret, for a confidential client.")
    scopes: str = Field("openid profile email", description="The scopes the console asks for.")
    console_token: Literal["access_token", "id_token"] = Field(
        "access_token",
        description="Which of the provider's tokens signs in to the console (it must carry the audience "
        "and the level claim).",
    )


class Webhook(BaseModel):
    """A receiver of the cases' decisions (``[webhooks.<name>]``), signed as Standard Webhooks sign."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Where the events are POSTed (https://helpdesk.example.com/hooks/ombuds).")
    secret: SecretStr = Field(
        description="The signing secret, whsec_ and base64 (`ombuds webhooks secret` makes one)."
    )
    events: list[str] = Field(
        default_factory=lambda: list(EVENT_TYPES.values()),
        description="The event types this receiver gets (complaint.escalated, clock.breached, ...); default all.",
    )
    timeout: float = Field(10.0, gt=0, le=60, description="Seconds to wait for the receiver's answer.")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("a webhook's url starts with https:// (or http://)")
        return url

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        unknown = sorted(set(events) - set(EVENT_TYPES.values()))
        if unknown:
            known = ", ".join(sorted(set(EVENT_TYPES.values())))
            raise ValueError(f"unknown event type {', '.join(unknown)} (known: {known})")
        return events

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: SecretStr) -> SecretStr:
        raw = secret.get_secret_value().removeprefix("whsec_")
        try:
            key = base64.b64decode(raw + "==", validate=False)
        except (ValueError, binascii.Error):
            key = b""
        if len(key) < 24:
            raise ValueError("a webhook's secret is whsec_ and at least 24 bytes in base64")
        return secret


class Settings(BaseSettings):
    """How ombuds connects to Temporal and where it keeps its files."""

    model_config = SettingsConfigDict(env_prefix="OMBUDS_", env_nested_delimiter="__", extra="ignore")

    address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    namespace: str = "default"
    task_queue: str = "ombuds"
    tls: bool = Field(False, description="Connect with TLS.")
    tls_cert: Path | None = Field(None, description="Client certificate (mTLS).")
    tls_key: Path | None = Field(None, description="Client private key (mTLS).")
    tls_ca: Path | None = Field(None, description="Server CA certificate.")
    api_key: str | None = Field(None, description="Temporal Cloud API key.")
    api_secret: str | None = Field(
        None, description="Secret that signs the HTTP API's tokens; else kept in <home>/api.key."
    )
    home: Path = Field(Path(".ombuds"), description="Local state: store, outbox, dev-server database.")
    policies: Path = Field(Path("policies"), description="Folder of policy files.")
    ui_port: int = 8233
    api_port: int = Field(8300, description="Port of the HTTP API that `ombuds dev` serves on 127.0.0.1.")
    api_url: str | None = Field(
        None, description="The HTTP API staff commands call; else http://127.0.0.1:<api_port> (ombuds dev)."
    )
    inbound_port: int = Field(
        8025, description="Port on 127.0.0.1 where `ombuds dev` receives customers' replies by SMTP."
    )
    public_url: str | None = Field(
        None,
        description="Where customers and staff reach the web pages (the links in messages start with it); "
        "else http://127.0.0.1:<api_port>.",
    )
    token: str | None = Field(
        None, description="The token staff commands send; else the admin token in <home>/admin.token."
    )
    intake_per_minute: int = Field(
        60, ge=1, description="Complaints one caller may submit through the API in a minute (then 429)."
    )
    oidc: Oidc | None = Field(
        None, description="Verify staff tokens from an OIDC provider as well as the locally signed ones."
    )
    log_format: Literal["console", "json"] = "console"
    codec_origins: list[str] = Field(
        default_factory=list,
        description="Origins of a Temporal UI that may open payloads through /console/codec "
        "(besides http://127.0.0.1:<ui_port>), e.g. https://temporal.example.com.",
    )
    encryption: bool = Field(
        True,
        description="Seal every payload written to Temporal (personal data with the customer's key); "
        "the keys are in <home>/keys.sqlite. See docs/records.md.",
    )
    ledger_key: str | None = Field(
        None, description="Secret of the keyed hashes that name customers' ledgers; else <home>/ledger.key."
    )
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Each channel plugin's settings, by plugin name ([channels.email])."
    )
    routes: dict[str, str] = Field(
        default_factory=dict,
        description='Which plugin serves a channel, where several installed ones could (email = "outbox").',
    )
    directory: Directory = Field(default_factory=Directory, description="The staff directory.")
    webhooks: dict[str, Webhook] = Field(
        default_factory=dict,
        description="Receivers of the cases' decisions, by name ([webhooks.helpdesk]); see docs/plugins.md.",
    )
    deliveries: str | None = Field(
        None,
        description="The delivery ledger: a postgresql:// URL shared by every worker; else <home>/deliveries.sqlite.",
    )
    archive: str | None = Field(
        None,
        description="Where closed complaints are archived: a folder, or s3://bucket/prefix (credentials, "
        "region and endpoint from the AWS_* variables); else <home>/archive. See docs/records.md.",
    )
    archive_every_minutes: int = Field(
        60,
        ge=0,
        le=24 * 60,
        description="How often the Temporal schedule `ombuds-archive` archives the closed complaints "
        "(0: no schedule; `ombuds archive run` by hand).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=settings_file())

    @property
    def web_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def register_dir(self) -> Path:
        return self.home / "register"

    @property
    def deliveries_db(self) -> Path:
        return self.home / "deliveries.sqlite"
