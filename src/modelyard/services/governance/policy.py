"""What an API key or a workspace allows: models, expiry, rates, concurrency and a spend budget (issue 16 §1).

Every field is optional. A key's policy and its workspace's limits are separate levels, and a call must pass both.
Values arrive from the console's JSON, the CLI's options and the library as plain mappings; `parse_*` checks them
and raises InvalidRequestError naming the field. Policies are stored as JSON (`to_json` / `*_from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast, get_args

import orjson

from modelyard.errors import InvalidRequestError
from modelyard.services.response_cache.settings import parse_ttl
from modelyard.types.value import Value

Window = Literal["none", "daily", "weekly", "monthly"]
Currency = Literal["USD", "CNY", "EUR"]  # the catalog's price currencies
WINDOWS: tuple[str, ...] = get_args(Window)
CURRENCIES: tuple[str, ...] = get_args(Currency)

MAX_RATE = 10**9  # requests or tokens per minute
MAX_CONCURRENT = 100_000
MAX_BUDGET = Decimal(10**9)
BUDGET_PLACES = 6  # counters hold integer micro-units of the currency (services/quota/budgets.py)
MAX_ALLOWED_MODELS = 200
MAX_MODEL_NAME = 320

LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_concurrent_requests", "budget")
KEY_FIELDS = ("allowed_models", "expires_at", *LIMIT_FIELDS, "strict_params", "cache_ttl_s")


class Budget(Value, frozen=True):
    """A spend limit in one currency, counted per window (UTC days, ISO weeks from Monday, calendar months)."""

    limit: Decimal
    currency: Currency = "USD"
    window: Window = "none"
    soft_limit: Decimal | None = None  # past it, answers say so (a header, the console) before the hard stop


class Limits(Value, frozen=True):
    """What a workspace, or a key, may use; None: no limit of that kind."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrent_requests: int | None = None
    budget: Budget | None = None

    @property
    def is_limited(self) -> bool:
        return any(getattr(self, name) is not None for name in LIMIT_FIELDS)


class KeyPolicy(Limits, frozen=True):
    """A key's policy: its limits, plus which models it may call, until when, and how parameters are checked."""

    allowed_models: tuple[str, ...] | None = None  # exact names, `provider/*`, alias names; None: every model
    expires_at: datetime | None = None
    strict_params: bool = False  # refuse a parameter the model does not take, instead of dropping it
    # The response cache for the key's calls (gateway/cache.py): seconds answers are kept, 0 off; None: as its
    # workspace has it.
    cache_ttl_s: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == NO_POLICY

    def allows(self, requested: str, resolved: str) -> bool:
        """Whether the key may call a model asked for as `requested` (a name, an alias, `default`) that resolved
        to `resolved` (`provider/model`)."""
        allowed = self.allowed_models
        if allowed is None:
            return True
        provider = resolved.partition("/")[0]
        for entry in allowed:
            if entry in (requested, resolved):
                return True
            if entry.endswith("/*") and entry[:-2] == provider:
                return True
        return False


NO_POLICY = KeyPolicy()
NO_LIMITS = Limits()


# --- reading and checking -------------------------------------------------------------------------------------


def parse_limits(data: Mapping[str, object], *, base: Limits = NO_LIMITS) -> Limits:
    """`base` with the fields `data` names changed (None clears one); every other key is refused."""
    _refuse_unknown(data, LIMIT_FIELDS)
    return Limits(**_limit_values(data, base))


def parse_key_policy(data: Mapping[str, object], *, base: KeyPolicy = NO_POLICY) -> KeyPolicy:
    """`base` with the fields `data` names changed (None clears one); every other key is refused."""
    _refuse_unknown(data, KEY_FIELDS)
    values: dict[str, Any] = _limit_values(data, base)
    values["allowed_models"] = (
        _allowed_models(data["allowed_models"]) if "allowed_models" in data else base.allowed_models
    )
    values["expires_at"] = _moment(data["expires_at"], "expires_at") if "expires_at" in data else base.expires_at
    strict = data.get("strict_params", base.strict_params)
    if not isinstance(strict, bool):
        raise InvalidRequestError("strict_params is true or false", field="strict_params")
    values["strict_params"] = strict
    if "cache_ttl_s" in data:
        values["cache_ttl_s"] = None if data["cache_ttl_s"] is None else parse_ttl(data["cache_ttl_s"], "cache_ttl_s")
    else:
        values["cache_ttl_s"] = base.cache_ttl_s
    return KeyPolicy(**values)


def _refuse_unknown(data: Mapping[str, object], known: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidRequestError(f"unknown policy field {unknown[0]!r}; known: {', '.join(known)}", field=unknown[0])


def _limit_values(data: Mapping[str, object], base: Limits) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(base, name) for name in LIMIT_FIELDS}
    for name, ceiling in (
        ("requests_per_minute", MAX_RATE),
        ("tokens_per_minute", MAX_RATE),
        ("max_concurrent_requests", MAX_CONCURRENT),
    ):
        if name in data:
            values[name] = _count(data[name], name, ceiling)
    if "budget" in data:
        values["budget"] = _budget(data["budget"])
    return values


def _count(value: object, field: str, ceiling: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ceiling:
        raise InvalidRequestError(f"{field} is a whole number from 1 to {ceiling:,}, or null for no limit", field=field)
    return value


def _budget(value: object) -> Budget | None:
    if value is None:
        return None
    if isinstance(value, Budget):
        return value
    if not isinstance(value, Mapping):
        raise InvalidRequestError("budget is an object: limit, currency, window, soft_limit", field="budget")
    _refuse_unknown_budget_keys(value)
    limit = _amount(value.get("limit"), "budget.limit")
    if limit is None:
        raise InvalidRequestError('budget.limit is required: an amount such as "25.00"', field="budget.limit")
    currency = value.get("currency", "USD")
    if currency not in CURRENCIES:
        raise InvalidRequestError(f"budget.currency is one of {', '.join(CURRENCIES)}", field="budget.currency")
    window = value.get("window", "none")
    if window not in WINDOWS:
        raise InvalidRequestError(f"budget.window is one of {', '.join(WINDOWS)}", field="budget.window")
    soft = _amount(value.get("soft_limit"), "budget.soft_limit")
    if soft is not None and soft >= limit:
        raise InvalidRequestError("budget.soft_limit is below budget.limit", field="budget.soft_limit")
    return Budget(limit, cast(Currency, currency), cast(Window, window), soft)


def _refuse_unknown_budget_keys(value: Mapping[object, object]) -> None:
    unknown = sorted(str(key) for key in set(value) - {"limit", "currency", "window", "soft_limit"})
    if unknown:
        raise InvalidRequestError(f"unknown budget field {unknown[0]!r}", field=f"budget.{unknown[0]}")


def _amount(value: object, field: str) -> Decimal | None:
    """A positive amount of at most 9 decimal places; a number or a string (strings keep decimals exact)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidRequestError(f'{field} is an amount such as "25.00"', field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidRequestError(f'{field} is an amount such as "25.00", not {value!r}', field=field) from None
    if not amount.is_finite() or not Decimal(0) < amount <= MAX_BUDGET:
        raise InvalidRequestError(f"{field} is above 0 and at most {MAX_BUDGET:,}", field=field)
    if -amount.as_tuple().exponent > BUDGET_PLACES:  # type: ignore[operator]
        raise InvalidRequestError(f"{field} has at most {BUDGET_PLACES} decimal places", field=field)
    return amount


def _allowed_models(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidRequestError(
            "allowed_models is a list of model names, or null for every model", field="allowed_models"
        )
    if not value:
        raise InvalidRequestError(
            "allowed_models lists at least one model; null allows every model", field="allowed_models"
        )
    if len(value) > MAX_ALLOWED_MODELS:
        raise InvalidRequestError(f"allowed_models lists at most {MAX_ALLOWED_MODELS} entries", field="allowed_models")
    entries: list[str] = []
    for entry in value:
        if (
            not isinstance(entry, str)
            or not 0 < len(entry.strip()) <= MAX_MODEL_NAME
            or any(c.isspace() for c in entry.strip())
        ):
            raise InvalidRequestError(
                "each allowed model is a name such as 'openai/gpt-4.1', 'openai/*' or an alias, without spaces",
                field="allowed_models",
            )
        name = entry.strip()
        if "*" in name and not (name.endswith("/*") and name.count("*") == 1 and len(name) > 2):
            raise InvalidRequestError(
                f"{name!r}: a wildcard is only a whole provider, as in 'openai/*'", field="allowed_models"
            )
        if name not in entries:
            entries.append(name)
    return tuple(entries)


def _moment(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequestError(
                f"{field} is an ISO 8601 time such as 2027-01-31T00:00:00Z", field=field
            ) from None
    else:
        raise InvalidRequestError(f"{field} is an ISO 8601 time such as 2027-01-31T00:00:00Z", field=field)
    if moment.tzinfo is None:
        raise InvalidRequestError(f"{field} needs a time zone, such as Z for UTC", field=field)
    return moment.astimezone(UTC)


# --- storing --------------------------------------------------------------------------------------------------


def to_json(policy: Limits) -> str | None:
    """The stored form; None for a policy that sets nothing. Amounts are strings, so they stay exact."""
    data = {
        name: value
        for name in policy.__struct_fields__
        if name != "expires_at" and (value := getattr(policy, name)) is not None and value is not False
    }
    if not data:
        return None
    budget = data.get("budget")
    if isinstance(budget, Budget):
        data["budget"] = {
            "limit": str(budget.limit),
            "currency": budget.currency,
            "window": budget.window,
            **({"soft_limit": str(budget.soft_limit)} if budget.soft_limit is not None else {}),
        }
    if "allowed_models" in data:
        data["allowed_models"] = list(data["allowed_models"])
    return orjson.dumps(data).decode()


def key_policy_from_json(stored: str | None, *, expires_at: datetime | None = None) -> KeyPolicy:
    data = orjson.loads(stored) if stored else {}
    data["expires_at"] = expires_at.replace(tzinfo=UTC) if expires_at and expires_at.tzinfo is None else expires_at
    return parse_key_policy(data)


def limits_from_json(stored: str | None) -> Limits:
    return parse_limits(orjson.loads(stored)) if stored else NO_LIMITS
