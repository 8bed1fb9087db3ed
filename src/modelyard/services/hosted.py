"""The operator's hosted (system) providers: a YAML file named by MODELYARD_HOSTED_CONFIG, read once at start-up.

```yaml
providers:
  openai:
    credentials: {openai_api_key: "${OPENAI_API_KEY}"}  # ${NAME} is replaced from the environment
    quota: {type: trial, unit: times, limit: 200}        # limit -1: unlimited
    models: [gpt-4.1-mini, text-embedding-3-small]      # optional: omitted = every catalog model
    credits: {gpt-4.1: 5}                               # optional, unit credits only: cost of one call
```

A bad file stops start-up with a `HostedConfigError` that names the file and the field. Credential values
never appear in an error: they may be real keys pasted into the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from modelyard.catalog.forms import check_values
from modelyard.catalog.loader import Catalog
from modelyard.errors import CredentialValidationError, ModelyardError
from modelyard.signing.machine_identity import OperatorCredentials

QuotaType = Literal["trial", "paid", "free"]
QuotaUnit = Literal["times", "tokens", "credits"]
UNLIMITED = -1

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HostedConfigError(ModelyardError):
    """The hosted-provider config file is invalid; raised at start-up, naming the file and the field."""


@dataclass(frozen=True, slots=True)
class HostedProvider:
    provider: str
    credentials: dict[str, str] = field(repr=False)  # real keys: kept out of reprs and logs
    quota_type: QuotaType
    unit: QuotaUnit
    limit: int  # -1 = unlimited
    models: frozenset[str] | None = None  # None = every catalog model of the provider
    credits: dict[str, int] = field(default_factory=dict)  # unit credits: per-call cost by model (default 1)

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, slots=True)
class HostedConfig:
    providers: dict[str, HostedProvider]

    def get(self, provider: str) -> HostedProvider | None:
        return self.providers.get(provider)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _QuotaEntry(_Strict):
    type: QuotaType
    unit: QuotaUnit
    limit: StrictInt = Field(ge=UNLIMITED)


class _ProviderEntry(_Strict):
    credentials: dict[StrictStr, Any]  # checked against the catalog's form, after ${ENV} expansion
    quota: _QuotaEntry
    models: list[StrictStr] | None = Field(default=None, min_length=1)
    credits: dict[StrictStr, StrictInt] = Field(default_factory=dict)


class _HostedFile(_Strict):
    providers: dict[StrictStr, _ProviderEntry]


def load_hosted_config(
    path: Path | None, catalog: Catalog, *, environ: Mapping[str, str] | None = None
) -> HostedConfig:
    """Read and check the hosted config; no path means no hosted providers."""
    if path is None:
        return HostedConfig(providers={})
    environ = os.environ if environ is None else environ
    parsed = _parse(path, _read_yaml(path))
    providers = {
        provider_id: _provider(path, catalog, provider_id, entry, environ)
        for provider_id, entry in parsed.providers.items()
    }
    return HostedConfig(providers=providers)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HostedConfigError(f"{path}: cannot read the hosted config: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # str(exc) quotes the offending line, which may hold a key: report only where and what.
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise HostedConfigError(f"{path}: {where}{problem}") from None


def _parse(path: Path, raw: Any) -> _HostedFile:
    if not isinstance(raw, dict):
        raise HostedConfigError(f"{path}: must be a mapping with a `providers` key")
    try:
        return _HostedFile.model_validate(raw)
    except ValidationError as exc:
        # Only locations and pydantic's messages: `input` would echo credential values.
        problems = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]]
        raise HostedConfigError(f"{path}: {'; '.join(problems)}") from None


def _provider(
    path: Path, catalog: Catalog, provider_id: str, entry: _ProviderEntry, environ: Mapping[str, str]
) -> HostedProvider:
    where = f"{path}: providers.{provider_id}"
    if provider_id not in catalog:
        raise HostedConfigError(f"{where}: unknown provider {provider_id!r}")
    spec = catalog.get(provider_id)
    if "predefined-model" not in spec.configuration_methods or not spec.credentials:
        raise HostedConfigError(
            f"{where}: {provider_id} takes credentials per custom model; only providers with predefined "
            "models can be hosted"
        )
    catalog_models = {model.id for model in spec.models}
    for index, model in enumerate(entry.models or ()):
        if model not in catalog_models:
            raise HostedConfigError(f"{where}.models[{index}]: {model!r} is not a {provider_id} model in the catalog")
    if entry.credits and entry.quota.unit != "credits":
        raise HostedConfigError(f"{where}.credits: costs per model apply to unit credits, not {entry.quota.unit}")
    for model, cost in entry.credits.items():
        if model not in catalog_models or (entry.models is not None and model not in entry.models):
            raise HostedConfigError(f"{where}.credits.{model}: {model!r} is not a hosted {provider_id} model")
        if cost < 1:
            raise HostedConfigError(f"{where}.credits.{model}: a call costs at least 1 credit")
    expanded = {
        name: _expand(f"{where}.credentials.{name}", value, environ) for name, value in entry.credentials.items()
    }
    try:
        credentials = check_values(spec.credentials, expanded)
    except CredentialValidationError as exc:  # its messages name fields, never values
        field_name = f".{exc.field}" if exc.field else ""
        raise HostedConfigError(f"{where}.credentials{field_name}: {exc}") from None
    return HostedProvider(
        provider=provider_id,
        credentials=OperatorCredentials(credentials),  # the operator's own: may use this machine's cloud identity
        quota_type=entry.quota.type,
        unit=entry.quota.unit,
        limit=entry.quota.limit,
        models=frozenset(entry.models) if entry.models is not None else None,
        credits=dict(entry.credits),
    )


def _expand(where: str, value: Any, environ: Mapping[str, str]) -> Any:
    """Replace each ${NAME} in a string value with that environment variable; a missing one is an error."""
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise HostedConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]

    return _ENV_REFERENCE.sub(substitute, value)
