"""The database tables. Every tenant row carries `workspace_id`, and every query filters on it."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Names for constraints, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database: SQLite stores none and would hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: store UTC-aware ones")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SystemSetting(Base):
    """Process-wide facts kept in the database, such as the master-key check value."""

    __tablename__ = "system_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Workspace(Timestamped, Base):
    __tablename__ = "workspaces"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ws"))
    name: Mapped[str] = mapped_column(String(120))
    # Bumped by every configuration write, in the same transaction: snapshots compare it to know they are stale.
    config_version: Mapped[int] = mapped_column(BigInteger, default=1)
    active_key_id: Mapped[str | None] = mapped_column(String(32))


class ConfigChange(Base):
    """The configuration change feed: one row per write, so a replica asks "what changed since seq N".

    Written in the transaction that bumps `config_version`; pruned after an hour. No foreign key: a deleted
    workspace's row must outlive it, to tell other replicas to forget it.
    """

    __tablename__ = "config_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)  # SQLite would otherwise reuse the numbers of pruned rows
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(BigInteger)  # the workspace's config_version after it; None: deleted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WorkspaceKey(Timestamped, Base):
    """A workspace's RSA key pair; the private key is sealed with the master key."""

    __tablename__ = "workspace_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    public_key_pem: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)


class Account(Timestamped, Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("acct"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Membership(Timestamped, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("workspace_id", "account_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | admin | member


class ApiKey(Timestamped, Base):
    """A workspace API key: only its SHA-256 is stored; the prefix is kept to tell keys apart."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # JSON (services/governance/policy.py): allowed models, rate and concurrency limits, budget, strict parameters.
    policy: Mapped[str | None] = mapped_column(Text)


class WorkspacePolicy(Base):
    """Limits on a whole workspace (rates, concurrency, budget), JSON as a key's; every call passes them too."""

    __tablename__ = "workspace_policies"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    policy: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProviderCredential(Timestamped, Base):
    """Named credentials for a provider in a workspace; secret fields are sealed (see vault.py)."""

    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cred"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    sealed_values: Mapped[str] = mapped_column(Text)  # JSON: plain values, and sealed secrets
    status: Mapped[str] = mapped_column(String(16), default="unverified")  # verified | unverified | failing
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProviderSetting(Base):
    """Per workspace and provider: the active credential and the preferred provider type."""

    __tablename__ = "provider_settings"
    __table_args__ = (UniqueConstraint("workspace_id", "provider"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    active_credential_id: Mapped[str | None] = mapped_column(ForeignKey("provider_credentials.id", ondelete="SET NULL"))
    preferred_type: Mapped[str | None] = mapped_column(String(16))  # system | custom; None: automatic


class CustomModel(Timestamped, Base):
    """A model added by name to a customizable provider, with its own credentials."""

    __tablename__ = "custom_models"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", "model", "model_type"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cm"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    sealed_values: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ModelSetting(Base):
    """A workspace's switches for one model: enabled, and whether load balancing is on."""

    __tablename__ = "model_settings"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", "model", "model_type"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    load_balancing: Mapped[bool] = mapped_column(Boolean, default=False)


class LoadBalancingEntry(Timestamped, Base):
    """One credential set in a model's load-balancing pool: its own sealed values, or a provider credential."""

    __tablename__ = "load_balancing_entries"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", "model", "model_type", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("lb"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("provider_credentials.id", ondelete="CASCADE"))
    sealed_values: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class DefaultModel(Base):
    __tablename__ = "default_models"
    __table_args__ = (UniqueConstraint("workspace_id", "model_type"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    model_type: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))


class HostedQuota(Base):
    """A workspace's quota on one hosted (system) provider; `used` includes open reservations.

    `used` always equals the sum of the workspace's ledger amounts for the provider: both change in one transaction.
    """

    __tablename__ = "hosted_quotas"
    __table_args__ = (UniqueConstraint("workspace_id", "provider"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    quota_type: Mapped[str] = mapped_column(String(16))  # trial | paid | free
    unit: Mapped[str] = mapped_column(String(16))  # times | tokens | credits
    quota_limit: Mapped[int] = mapped_column(BigInteger)  # -1: unlimited
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class QuotaLedgerEntry(Timestamped, Base):
    """Every reservation, settlement and release of hosted quota; `used` is the sum of a workspace's rows."""

    __tablename__ = "quota_ledger"
    __table_args__ = (
        # One reserve row (step 0) and at most one settle-or-release row (step 1) per reservation.
        UniqueConstraint("reservation_id", "step"),
        # A repeated Idempotency-Key finds the first reservation; rows without a key never collide.
        UniqueConstraint("workspace_id", "provider", "idempotency_key"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    # No index of its own: the unique constraint above leads with it (lookups, and the cascade on delete).
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # reserve | settle | release | carried
    # 0: reserve; 1: settle or release, which close it; 2: carried, the sum of pruned reservations (ledger_pruning)
    step: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # signed change to `used`
    idempotency_key: Mapped[str | None] = mapped_column(String(255))  # on the reserve row only


class BudgetCounter(Base):
    """Spend counted against one budget period (`meter`: `key:<id>:monthly:2026-12-01`, `workspace:none`), in
    micro-units of the budget's currency; `used` includes open reservations and is the sum of the period's ledger."""

    __tablename__ = "budget_counters"
    __table_args__ = (UniqueConstraint("workspace_id", "meter"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No index of its own: the unique constraint leads with it.
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    meter: Mapped[str] = mapped_column(String(96))
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetLedgerEntry(Timestamped, Base):
    """Every reservation, settlement and release of budget; a period's `used` is the sum of its rows."""

    __tablename__ = "budget_ledger"
    __table_args__ = (UniqueConstraint("reservation_id", "step"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    meter: Mapped[str] = mapped_column(String(96))
    reservation_id: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(320))  # provider/model
    kind: Mapped[str] = mapped_column(String(16))  # reserve | settle | release | carried
    # 0: reserve; 1: settle or release, which close it; 2: carried, the sum of pruned reservations (ledger_pruning)
    step: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # signed change to `used`, micro-units


class UsageRecord(Base):
    """One invocation: written in batches, off the hot path; pruned after MODELYARD_USAGE_RETENTION_DAYS."""

    __tablename__ = "usage_records"
    # Sums by day read usage_daily; pruning walks the primary key: no index on created_at is needed.
    __table_args__ = (Index("ix_usage_records_workspace_newest", "workspace_id", "id"),)  # newest-first pages
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    provider_type: Mapped[str] = mapped_column(String(16))  # system | custom
    credential_ref: Mapped[str | None] = mapped_column(String(32))  # credential, custom model or LB entry id
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_price: Mapped[Decimal] = mapped_column(Numeric(20, 10), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # success | error
    error_class: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsageDaily(Base):
    """Usage records summed per UTC day and group, changed in the transaction that writes the records, so the totals
    are always the records'; kept after the records are pruned (services/retention.py). Usage views read these."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        # The group, and the index of the views' reads (a workspace's days); the upsert's conflict target.
        UniqueConstraint(
            "workspace_id",
            "day",
            "api_key_id",
            "provider",
            "model",
            "model_type",
            "provider_type",
            "status",
            "currency",
            name="uq_usage_daily_group",
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    api_key_id: Mapped[str] = mapped_column(String(32))  # "": the console's calls (NULLs would never conflict)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(32))
    provider_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(8))
    calls: Mapped[int] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger)  # from the calls themselves: records lack it
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
    # The price in 10**-10 of the currency: an integer sum is exact, where SQLite would add NUMERIC as floats.
    price_units: Mapped[int] = mapped_column(BigInteger)


class ConsoleSession(Timestamped, Base):
    """A web-console sign-in: the cookie carries a random token, the table only its SHA-256."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # Sent back in X-CSRF-Token on cookie-authenticated writes; useless without the cookie, so kept as it is.
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # slides forward while in use


class AccessToken(Timestamped, Base):
    """A personal access token for automation (`Authorization: Bearer`); only its SHA-256 is stored."""

    __tablename__ = "access_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pat"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class StoredResponse(Base):
    """A `/v1/responses` answer kept (`store: true`) so `previous_response_id` can continue it; no credential.

    `conversation` is the whole item list the next turn continues (history, input, output) as JSON, so a
    continuation is one read, not a walk up a chain; written in batches off the hot path, pruned once expired.
    """

    __tablename__ = "stored_responses"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(320))  # provider/model, the default of a continuation
    response: Mapped[bytes] = mapped_column(LargeBinary)  # the response object as answered, JSON
    conversation: Mapped[bytes] = mapped_column(LargeBinary)  # input items of a continuation, JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class IdempotencyRecord(Base):
    """A gateway call made with an Idempotency-Key, and the answer replayed to its repeats until `expires_at`.

    While the first call runs, `status` is null and `expires_at` is the end of its lease. Only what the gateway
    answered is kept (status, headers, body), never the request or its headers.
    """

    __tablename__ = "idempotency_keys"
    # The primary key is the claim: one INSERT wins, on SQLite and PostgreSQL alike.
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the route and the body
    token: Mapped[str] = mapped_column(String(32))  # the claim holding the key
    status: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[bytes | None] = mapped_column(LargeBinary)  # JSON pairs
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ResponseCacheSetting(Base):
    """A workspace's opt-in to the gateway's response cache (services/response_cache): identical calls are answered
    from the cache for `ttl_s` seconds. No row: the cache is off unless a request asks for it."""

    __tablename__ = "response_cache_settings"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    ttl_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ModelAlias(Timestamped, Base):
    """A workspace's name for an ordered list of weighted models (services/aliases.py): calls spread over the
    targets by weight and fall back along the list before the first byte, within `max_attempts` and `max_time_s`."""

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("alias"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    model_type: Mapped[str] = mapped_column(String(32))
    targets: Mapped[str] = mapped_column(Text)  # JSON: [{"provider", "model", "weight"}], in fallback order
    max_attempts: Mapped[int] = mapped_column(Integer)
    max_time_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
