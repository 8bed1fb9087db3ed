"""Request bodies: strict, and an unknown key is an error (a typo must not be silently ignored)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from modelyard.types.model_type import ModelType

Name = Annotated[str, Field(max_length=120)]
RequiredName = Annotated[str, Field(min_length=1, max_length=120)]  # the services also refuse one of only spaces
Email = Annotated[str, Field(min_length=3, max_length=320)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
ProviderId = Annotated[str, Field(min_length=1, max_length=64)]
ModelName = Annotated[str, Field(min_length=1, max_length=255)]
Role = Literal["owner", "admin", "member"]


def _scalar(value: object) -> str | bool | int | float | None:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise ValueError("a credential value is a string, a number, a boolean or null")


# One validator, not a union: a union's errors would name each member type in the error's location.
Scalar = Annotated[
    str | bool | int | float | None,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean", "null"]}),
]
# Credential form values; the provider's form (catalog) says which keys exist, which are required, and their options.
Values = Annotated[dict[str, Scalar], Field(max_length=64)]
Weight = Annotated[int, Field(ge=1, le=1000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Checked(Body):
    """A body whose values are checked with one live call upstream unless `validate` is false."""

    # `validate` would shadow BaseModel.validate, hence the alias.
    should_validate: bool = Field(default=True, alias="validate")


class SignInBody(Body):
    email: Email
    password: Password


class TokenBody(SignInBody):
    name: Name = ""


class SetupBody(Body):
    token: Annotated[str, Field(min_length=1, max_length=128)]
    email: Email
    password: Password
    name: Name = ""


class WorkspaceBody(Body):
    name: RequiredName


class PreferredTypeBody(Body):
    preferred_type: Literal["system", "custom"] | None  # null: automatic


class CredentialBody(Checked):
    name: RequiredName | None = None  # default: "<Provider> <n>"
    values: Values


class CredentialUpdateBody(Checked):
    name: RequiredName | None = None
    values: Values | None = None  # sending a secret's mask back keeps the stored secret


class ModelSwitchBody(Body):
    provider: ProviderId
    model: ModelName
    model_type: ModelType
    enabled: bool | None = None
    load_balancing: bool | None = None


class CustomModelBody(Checked):
    model: ModelName
    model_type: ModelType
    values: Values


class CustomModelUpdateBody(Checked):
    values: Values


class DefaultModelBody(Body):
    provider: ProviderId
    model: ModelName


class PoolEntryBody(Checked):
    provider: ProviderId
    model: ModelName
    model_type: ModelType
    name: RequiredName
    weight: Weight = 1
    values: Values | None = None  # either its own values ...
    credential_id: Annotated[str, Field(max_length=64)] | None = None  # ... or one of the provider's credentials


class PoolEntryUpdateBody(Checked):
    name: RequiredName | None = None
    weight: Weight | None = None
    enabled: bool | None = None
    values: Values | None = None


class AliasTargetBody(Body):
    provider: ProviderId
    model: ModelName
    weight: Annotated[int, Field(ge=0, le=1000)] = 1  # 0: tried only when another target failed


AliasTargets = Annotated[list[AliasTargetBody], Field(min_length=1, max_length=16)]  # first choice first
Attempts = Annotated[int, Field(ge=1, le=20)]
AliasTime = Annotated[int, Field(ge=1, le=600)]  # seconds


class AliasBody(Body):
    name: Annotated[str, Field(min_length=1, max_length=64)]  # letters, digits and . _ - : (the service checks)
    model_type: ModelType = "llm"
    targets: AliasTargets
    max_attempts: Attempts = 3
    max_time_s: AliasTime = 30


class AliasUpdateBody(Body):
    targets: AliasTargets | None = None
    max_attempts: Attempts | None = None
    max_time_s: AliasTime | None = None


def _amount(value: object) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('an amount is a string such as "25.00", or a number')
    return value


# Checked again, exactly, by the policy (services/governance/policy.py): above 0, at most 6 decimal places.
Amount = Annotated[
    str | int | float,
    PlainValidator(_amount),
    WithJsonSchema({"type": ["string", "number"], "examples": ["25.00"]}),
]


class BudgetBody(Body):
    limit: Amount
    currency: Literal["USD", "CNY", "EUR"] = "USD"
    window: Literal["none", "daily", "weekly", "monthly"] = "none"  # resets at 00:00 UTC; weeks start on Monday
    soft_limit: Amount | None = None  # past it, answers carry x-modelyard-budget-soft-limit-reached


class LimitsBody(Body):
    """Limits; in an update, a field left out keeps its value and null removes the limit."""

    requests_per_minute: Annotated[int, Field(ge=1, le=10**9)] | None = None
    tokens_per_minute: Annotated[int, Field(ge=1, le=10**9)] | None = None
    max_concurrent_requests: Annotated[int, Field(ge=1, le=100_000)] | None = None
    budget: BudgetBody | None = None


ModelPattern = Annotated[str, Field(min_length=1, max_length=320)]


class KeyPolicyBody(LimitsBody):
    # Exact names (provider/model, a bare name, an alias) or a whole provider, `openai/*`; null: every model.
    allowed_models: Annotated[list[ModelPattern], Field(max_length=200)] | None = None
    expires_at: Annotated[str, Field(max_length=64, json_schema_extra={"format": "date-time"})] | None = None
    strict_params: bool = False  # refuse a parameter the model does not take, instead of dropping it
    # The response cache for the key's calls: seconds answers are kept, 0 never; null: as the workspace has it.
    cache_ttl_s: Annotated[int, Field(ge=0, le=2_592_000)] | None = None

    def policy(self) -> dict[str, object]:
        """The fields the body sets, as the API-key service takes them."""
        return self.model_dump(exclude_unset=True, exclude={"name"})


class ResponseCacheBody(Body):
    ttl_s: Annotated[int, Field(ge=0, le=2_592_000)]  # how long answers are kept; 0 turns the cache off


class ApiKeyBody(KeyPolicyBody):
    name: RequiredName


class ApiKeyUpdateBody(KeyPolicyBody):
    name: RequiredName | None = None


class MemberBody(Body):
    email: Email
    role: Role
    password: Password | None = None  # given: create the account; absent: add an existing one
    name: Name | None = None


class RoleBody(Body):
    role: Role


class PlaygroundMessage(Body):
    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=200_000)]


class PlaygroundChatBody(Body):
    model: Annotated[str, Field(min_length=1, max_length=320)]  # provider/model, a model name, or "default"
    messages: Annotated[list[PlaygroundMessage], Field(min_length=1, max_length=200)]
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
