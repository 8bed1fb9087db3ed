"""Process settings, read from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import ModelyardError


class SettingsError(ModelyardError):
    """An environment variable has a value modelyard cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    database_schema: str | None  # PostgreSQL: keep modelyard's tables in this schema
    redis_url: str | None
    secret_key: str | None  # None: the master key lives in a 0600 file under `home`
    host: str
    port: int
    hosted_config: Path | None
    migrate_on_start: bool = True  # `modelyard serve` migrates once, then tells its workers not to

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("MODELYARD_HOME") or ".modelyard").expanduser()
        port_text = env.get("MODELYARD_PORT") or "8080"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"MODELYARD_PORT must be a port number, got {port_text!r}")
        hosted = env.get("MODELYARD_HOSTED_CONFIG")
        return cls(
            home=home,
            database_url=env.get("MODELYARD_DATABASE_URL") or f"sqlite+aiosqlite:///{home.resolve() / 'modelyard.db'}",
            database_schema=env.get("MODELYARD_DATABASE_SCHEMA") or None,
            redis_url=env.get("MODELYARD_REDIS_URL") or None,
            secret_key=env.get("MODELYARD_SECRET_KEY") or None,
            host=env.get("MODELYARD_HOST") or "127.0.0.1",
            port=int(port_text),
            hosted_config=Path(hosted).expanduser() if hosted else None,
            migrate_on_start=env.get("MODELYARD_MIGRATE_ON_START", "1") not in ("0", "false", "no"),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
