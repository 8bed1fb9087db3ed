"""Process settings, read from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from modelyard.errors import ModelyardError
from modelyard.runtime.address_policy import MODES, AddressRules, Mode, UpstreamPolicy
from modelyard.signing.machine_identity import POLICIES as MACHINE_IDENTITY_POLICIES
from modelyard.signing.machine_identity import MachineIdentityPolicy

IPNetwork = IPv4Network | IPv6Network


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
    upstream_mode: Mode = "default"  # the upstream address policy: see runtime/address_policy.py
    upstream_allow: AddressRules = field(default_factory=AddressRules)
    upstream_deny: AddressRules = field(default_factory=AddressRules)
    metrics_token: str | None = None  # set: /metrics answers only `Authorization: Bearer <token>`
    trusted_proxies: tuple[IPNetwork, ...] = ()  # peers whose X-Forwarded-For / Forwarded names the client
    workspace_cache_size: int = 10_000  # workspaces whose snapshot and keys each process keeps (LRU)
    # Who may sign with this machine's own cloud identity (AWS default chain, Google ADC): signing/machine_identity.py
    machine_identity: MachineIdentityPolicy = "hosted"
    # On SIGTERM, calls in flight get this long to finish; then streams end with an error event and the rest are
    # cancelled (quota released, usage and ledger written) before the process exits.
    drain_timeout_s: float = 20.0
    idempotency_hours: int = 24  # how long the gateway replays the answer kept for an Idempotency-Key
    response_cache_mb: int = 64  # the response cache's bound in this process's memory, without Redis
    # Days kept before the background pruning deletes them (services/retention.py); 0 keeps them forever.
    usage_retention_days: int = 90  # usage records (the console's recent calls); their daily sums outlive them
    ledger_retention_days: int = 400  # closed quota and budget reservations, folded into a carried balance
    aggregate_retention_days: int = 0  # the daily sums every usage view reads

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
            upstream_mode=_upstream_mode(env.get("MODELYARD_UPSTREAM_POLICY") or "default"),
            upstream_allow=_address_rules(env, "MODELYARD_UPSTREAM_ALLOW"),
            upstream_deny=_address_rules(env, "MODELYARD_UPSTREAM_DENY"),
            metrics_token=env.get("MODELYARD_METRICS_TOKEN") or None,
            trusted_proxies=_networks(env, "MODELYARD_TRUSTED_PROXIES"),
            workspace_cache_size=_positive_int(env, "MODELYARD_WORKSPACE_CACHE_SIZE", 10_000),
            machine_identity=_machine_identity(env.get("MODELYARD_MACHINE_IDENTITY") or "hosted"),
            drain_timeout_s=_seconds(env, "MODELYARD_DRAIN_TIMEOUT_S", 20.0),
            idempotency_hours=_positive_int(env, "MODELYARD_IDEMPOTENCY_HOURS", 24),
            response_cache_mb=_positive_int(env, "MODELYARD_RESPONSE_CACHE_MB", 64),
            **_retention_days(env),
        )

    @property
    def upstream_policy(self) -> UpstreamPolicy:
        """Where upstream calls may connect: the operator's lists, and never this service's own port."""
        return UpstreamPolicy(
            mode=self.upstream_mode, allow=self.upstream_allow, deny=self.upstream_deny, own_port=self.port or None
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _upstream_mode(text: str) -> Mode:
    for mode in MODES:
        if text.strip().lower() == mode:
            return mode
    raise SettingsError(f"MODELYARD_UPSTREAM_POLICY must be one of {', '.join(MODES)}, got {text!r}")


def _machine_identity(text: str) -> MachineIdentityPolicy:
    for policy in MACHINE_IDENTITY_POLICIES:
        if text.strip().lower() == policy:
            return policy
    raise SettingsError(
        f"MODELYARD_MACHINE_IDENTITY must be one of {', '.join(MACHINE_IDENTITY_POLICIES)}, got {text!r}"
    )


def _address_rules(env: Mapping[str, str], name: str) -> AddressRules:
    try:
        return AddressRules.parse(env.get(name) or "")
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR blocks, separated by commas or spaces: `10.0.0.0/8, 192.0.2.7, fd00::/8`."""
    networks = []
    for entry in (env.get(name) or "").replace(",", " ").split():
        try:
            networks.append(ip_network(entry))
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    return tuple(networks)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = (env.get(name) or "").strip().replace("_", "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {env.get(name)!r}")
    return int(text)


def _retention_days(env: Mapping[str, str]) -> dict[str, int]:
    usage = _days(env, "MODELYARD_USAGE_RETENTION_DAYS", 90)
    aggregates = _days(env, "MODELYARD_AGGREGATE_RETENTION_DAYS", 0)
    if aggregates and not 0 < usage <= aggregates:  # the views read the sums: they must outlive the records
        raise SettingsError(
            "MODELYARD_AGGREGATE_RETENTION_DAYS must be 0 (forever) or at least MODELYARD_USAGE_RETENTION_DAYS "
            f"({usage or 'forever'}), got {env.get('MODELYARD_AGGREGATE_RETENTION_DAYS')!r}"
        )
    return {
        "usage_retention_days": usage,
        "ledger_retention_days": _days(env, "MODELYARD_LEDGER_RETENTION_DAYS", 400),
        "aggregate_retention_days": aggregates,
    }


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    text = (env.get(name) or "").strip().replace("_", "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) > 36_500:
        raise SettingsError(f"{name} must be a whole number of days from 0 (forever) to 36500, got {env.get(name)!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:  # NaN fails this too
        raise SettingsError(f"{name} must be a number of seconds from 0 to 3600, got {env.get(name)!r}")
    return seconds
