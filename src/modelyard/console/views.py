"""Response shapes: what each route answers, as the OpenAPI document describes it. Secrets never appear here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, computed_field

from modelyard.catalog.spec import FormField, Help, I18nText, ModelProperties, Pricing, ProviderSpec
from modelyard.services.accounts import AccountView
from modelyard.services.providers import ProviderView
from modelyard.services.quota import QuotaStatus
from modelyard.types.model_type import ModelType


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives UTC without a zone


Moment = Annotated[datetime, AfterValidator(_utc)]


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AccountOut(View):
    id: str
    email: str
    name: str

    @classmethod
    def of(cls, account: AccountView) -> AccountOut:
        return cls(id=account.id, email=account.email, name=account.name)


class WorkspaceOut(View):
    id: str
    name: str
    role: str


class SignedInOut(View):
    account: AccountOut
    csrf_token: str


class SetupDoneOut(SignedInOut):
    workspace: WorkspaceOut


class MeOut(View):
    account: AccountOut
    workspaces: list[WorkspaceOut]
    csrf_token: str | None  # None when signed in with an access token


class TokenOut(View):
    token: str  # shown once


class SetupStateOut(View):
    needed: bool


class ProviderOut(View):
    """A catalog provider: what it is and the forms its credentials fill."""

    id: str
    label: I18nText
    description: I18nText | None
    icon_url: str
    background: str | None
    help: Help | None
    supported_model_types: list[ModelType]
    configuration_methods: list[str]
    credential_schema: list[FormField]
    model_credential_schema: list[FormField]
    custom_model_types: list[ModelType]  # the types a custom model may be (customizable-model)

    @classmethod
    def of(cls, spec: ProviderSpec) -> ProviderOut:
        return cls(
            id=spec.id,
            label=spec.label,
            description=spec.description,
            icon_url=icon_url(spec.id),
            background=spec.background,
            help=spec.help,
            supported_model_types=list(spec.supported_model_types),
            configuration_methods=list(spec.configuration_methods),
            credential_schema=list(spec.credentials),
            model_credential_schema=list(spec.model_credentials),
            custom_model_types=list(spec.custom_types) if "customizable-model" in spec.configuration_methods else [],
        )


class QuotaOut(View):
    provider: str
    quota_type: str
    unit: str
    limit: int  # -1: unlimited
    used: int
    remaining: int | None  # None: unlimited
    is_exhausted: bool


class WorkspaceProviderOut(View):
    """A provider as one workspace has it configured."""

    id: str
    label: I18nText
    icon_url: str
    background: str | None
    supported_model_types: list[ModelType]
    configuration_methods: list[str]
    has_custom: bool
    credential_status: str | None
    has_system: bool
    preferred_type: str | None
    resolved_type: str | None
    custom_model_count: int
    status: str | None  # the summary of its active credential and custom models: verified | failing | unverified
    quota: QuotaOut | None

    @classmethod
    def of(cls, view: ProviderView, quota: QuotaStatus | None) -> WorkspaceProviderOut:
        spec = view.spec
        return cls(
            id=spec.id,
            label=spec.label,
            icon_url=icon_url(spec.id),
            background=spec.background,
            supported_model_types=list(spec.supported_model_types),
            configuration_methods=list(spec.configuration_methods),
            has_custom=view.has_custom,
            credential_status=view.credential_status,
            has_system=view.has_system,
            preferred_type=view.preferred_type,
            resolved_type=view.resolved_type,
            custom_model_count=view.custom_model_count,
            status=view.status,
            quota=QuotaOut.model_validate(quota) if quota is not None else None,
        )


# Why a model, a default or stored credentials cannot be used, as codes the web console words in the user's language
# (static/js/messages.js) from the values in `*_params`; the English sentence stays beside them for API clients.
ReasonCode = Literal[
    "credentials_not_configured",  # these three are the error contract's codes (services/resolve.py)
    "model_disabled",
    "model_not_found",
    "no_usable_model",  # no model of the type can be called: nothing to be the default
    "credentials_rejected",  # the last check of stored credentials failed
]


class LastCheckOut(View):
    """Stored credentials and their last check: `last_error` in English, and its code and values to word it."""

    provider: str
    last_error: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_error_code(self) -> ReasonCode | None:
        return "credentials_rejected" if self.last_error else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_error_params(self) -> dict[str, str]:
        """`provider` (and `model`); the stored sentence is kept whole, so the provider's own words stay in it."""
        if not self.last_error:
            return {}
        model: str | None = getattr(self, "model", None)
        return {"case": "last_check", "provider": self.provider} | ({"model": model} if model else {})


class CredentialOut(LastCheckOut):
    id: str
    provider: str
    name: str
    values: dict[str, str]  # secrets masked
    status: str  # verified | unverified | failing
    checked_at: Moment | None
    last_error: str | None
    is_active: bool
    created_at: Moment
    updated_at: Moment


class ModelOut(View):
    provider: str
    model: str
    model_type: ModelType
    label: I18nText
    features: list[str]
    properties: ModelProperties
    pricing: Pricing | None
    deprecated: bool  # still served and usable; ranked last when a default is picked automatically
    shutdown_date: date | None  # when the vendor stops serving it, if announced
    is_custom: bool
    is_enabled: bool
    is_load_balanced: bool
    is_available: bool
    reason: str | None
    reason_code: ReasonCode | None  # credentials_not_configured | model_disabled | model_not_found
    reason_params: dict[str, str]
    provider_types: list[str]


class RemoteModelOut(View):
    id: str
    owned_by: str | None


class CustomModelOut(LastCheckOut):
    id: str
    provider: str
    model: str
    model_type: ModelType
    values: dict[str, str]  # secrets masked
    status: str
    checked_at: Moment | None
    last_error: str | None
    created_at: Moment


class DefaultModelOut(View):
    model_type: ModelType
    provider: str | None
    model: str | None
    source: str | None  # chosen | automatic | None
    is_available: bool
    reason: str | None
    reason_code: ReasonCode | None
    reason_params: dict[str, str]


class PoolEntryOut(LastCheckOut):
    id: str
    provider: str
    model: str
    model_type: str
    name: str
    weight: int
    is_enabled: bool
    credential_id: str | None
    values: dict[str, str]  # secrets masked
    status: str
    checked_at: Moment | None
    last_error: str | None
    live_status: str  # available | cooling | disabled
    cooldown_remaining_s: float
    # The model's own credentials (the provider's active credential, or the custom model's): always in the pool,
    # weight and switch editable; `id` is "" until load balancing is first switched on or an entry is added.
    is_inherit: bool


class AliasTargetOut(View):
    provider: str
    model: str
    weight: int
    is_available: bool  # the workspace can call it now
    reason: str | None  # why it cannot
    cooldown_remaining_s: float  # 0 unless it rests after failures (every replica skips it meanwhile)
    cooldown_reason: str | None


class AliasOut(View):
    id: str
    name: str
    model_type: str
    targets: list[AliasTargetOut]  # in fallback order
    max_attempts: int
    max_time_s: int
    created_at: Moment
    updated_at: Moment


class UsageOut(View):
    day: date | None
    api_key_id: str | None
    provider: str | None
    model: str | None
    model_type: str | None
    calls: int
    errors: int
    cache_hits: int  # answered from the response cache, nothing spent
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # of the prompt tokens, read from the provider's cache
    cache_write_tokens: int  # of the prompt tokens, written to it
    reasoning_tokens: int
    total_price: Decimal
    currency: str


class UsageRecordOut(View):
    id: int
    request_id: str
    api_key_id: str | None
    provider: str
    model: str
    model_type: str
    provider_type: str
    credential_ref: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    total_price: Decimal
    currency: str
    latency_ms: int
    time_to_first_token_ms: int | None
    status: str
    error_class: str | None
    created_at: Moment


class BudgetOut(View):
    """A budget, and where its current period stands (calls in flight counted at their worst case)."""

    limit: Decimal
    currency: str
    window: str
    soft_limit: Decimal | None
    period_start: date | None  # null: the budget never resets
    resets_at: Moment | None
    spent: Decimal
    remaining: Decimal
    is_soft_limit_reached: bool
    is_exhausted: bool


class ResponseCacheOut(View):
    ttl_s: int  # how long the workspace's answers are kept; 0: off (a key's policy or a request may still ask)


class LimitsOut(View):
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_concurrent_requests: int | None
    budget: BudgetOut | None


class ApiKeyOut(LimitsOut):
    id: str
    name: str
    prefix: str  # the first characters, to tell keys apart
    created_at: Moment
    last_used_at: Moment | None
    revoked_at: Moment | None
    expires_at: Moment | None
    is_expired: bool
    allowed_models: list[str] | None  # null: every model
    strict_params: bool
    cache_ttl_s: int | None = None  # the response cache for the key's calls; null: as the workspace has it


class ApiKeyCreatedOut(ApiKeyOut):
    key: str  # shown once, never again


class MemberOut(View):
    account_id: str
    email: str
    name: str
    role: str
    joined_at: Moment


class HealthOut(View):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


def icon_url(provider: str) -> str:
    return f"/console/api/providers/{provider}/icon"
