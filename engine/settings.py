"""Settings in one place: environment variables with the ``OMBUDS_`` prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """How ombuds connects to Temporal and where it keeps its files."""

    model_config = SettingsConfigDict(env_prefix="OMBUDS_", extra="ignore")

    address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    namespace: str = "default"
    task_queue: str = "ombuds"
    tls: bool = Field(False, description="Connect with TLS.")
    tls_cert: Path | None = Field(None, description="Client certificate (mTLS).")
    tls_key: Path | None = Field(None, description="Client private key (mTLS).")
    tls_ca: Path | None = Field(None, description="Server CA certificate.")
    api_key: str | None = Field(None, description="Temporal Cloud API key.")
    home: Path = Field(Path(".ombuds"), description="Local state: store, outbox, dev-server database.")
    policies: Path = Field(Path("policies"), description="Folder of policy files.")
    ui_port: int = 8233
    log_format: Literal["console", "json"] = "console"
    ledger_key: str | None = Field(
        None, description="Secret of the keyed hashes that name customers' ledgers; else <home>/ledger.key."
    )

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def register_dir(self) -> Path:
        return self.home / "register"
