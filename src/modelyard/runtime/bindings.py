"""Binds each catalog provider to its protocol and signing scheme, once, at start-up.

This is where a provider file's `protocol:`, `signing:` and `quirks:` are checked against the code that will
use them, so a typo fails when the process starts, naming the file and the key, not on the first call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelyard.catalog.call_limits import call_limits
from modelyard.catalog.custom import custom_model_spec
from modelyard.catalog.loader import Catalog, default_catalog
from modelyard.catalog.spec import ModelSpec, ProviderSpec, Spec
from modelyard.errors import CatalogError, CredentialsNotConfiguredError, ModelNotFoundError
from modelyard.protocols import PROTOCOLS, WireProtocol
from modelyard.protocols.base import Target
from modelyard.signing import SIGNING_SCHEMES, SigningScheme
from modelyard.types.model_type import ModelType

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Binding:
    """A provider ready to call: its spec, the protocol and signer that speak to it, and a model index."""

    spec: ProviderSpec
    protocol: WireProtocol
    quirks: Spec
    scheme: SigningScheme
    signing_params: Spec
    models: Mapping[tuple[str, str], ModelSpec]  # (model type, model id) -> spec
    field_defaults: Mapping[str, str]
    describing: frozenset[str] = frozenset()  # the model-form variables that shape a custom model's spec
    custom_models: dict[tuple[str, str, tuple[tuple[str, str], ...]], ModelSpec] = field(default_factory=dict)
    model_quirks: dict[str, Spec] = field(default_factory=dict)  # a model's `quirks:` merged over the provider's

    @property
    def is_customizable(self) -> bool:
        return "customizable-model" in self.spec.configuration_methods

    def model(self, model_id: str, model_type: ModelType, values: Mapping[str, str]) -> ModelSpec:
        """A catalog model, or for customizable providers a custom model described by its credentials."""
        spec = self.models.get((model_type, model_id))
        if spec is not None:
            return spec
        if not self.is_customizable:
            raise ModelNotFoundError(f"[{self.spec.id}] has no {model_type} model {model_id!r}")
        # A value the credential omits takes its form's default, as the services fill it when a model is saved.
        described = {**self.model_form_defaults, **values}
        key = (model_type, model_id, _describing_values(described, self.describing))
        custom = self.custom_models.get(key)
        if custom is None:
            if len(self.custom_models) > 4096:
                self.custom_models.clear()
            custom = self.custom_models[key] = custom_model_spec(self.spec, model_id, model_type, dict(key[2]))
        return custom

    @property
    def model_form_defaults(self) -> Mapping[str, str]:
        return {f.variable: f.default for f in self.spec.model_credentials if f.default}

    def quirks_for(self, model: ModelSpec) -> Spec:
        """The provider's quirks, with the model's own `quirks:` over them."""
        if not model.quirks:
            return self.quirks
        key = repr(sorted(model.quirks.items()))
        quirks = self.model_quirks.get(key)
        if quirks is None:
            merged = {**self.quirks.model_dump(exclude_unset=True), **model.quirks}
            quirks = self.model_quirks[key] = _validated(
                self.protocol.quirks_model, merged, f"{self.spec.id}: models.{model.id}.quirks"
            )
        return quirks

    def target(self, model: ModelSpec, credentials: Mapping[str, str], *, base_url: str | None = None) -> Target:
        upstream = credentials.get(self.spec.upstream_model_credential or "") or model.id
        limits = call_limits(self.spec, credentials)
        return Target(
            provider=self.spec,
            model=model,
            base_url=(base_url or self.fill(self.spec.base_url, credentials)).rstrip("/"),
            upstream_model=upstream,
            credentials=credentials,
            quirks=self.quirks_for(model),
            timeout_s=limits.timeout_s,
            retries=limits.retries,
        )

    def fill(self, template: str, credentials: Mapping[str, str]) -> str:
        """A template with `{variable}` filled from the credentials, or else from the form's default."""

        def value(match: re.Match[str]) -> str:
            variable = match.group(1)
            filled = credentials.get(variable) or self.field_defaults.get(variable)
            if not filled:
                raise CredentialsNotConfiguredError(f"[{self.spec.id}] credential {variable!r} is needed for the URL")
            return filled.rstrip("/")

        return _PLACEHOLDER.sub(value, template) if "{" in template else template


def bind_catalog(catalog: Catalog) -> dict[str, Binding]:
    return {spec.id: _bind(spec, str(catalog.source(spec.id))) for spec in catalog}


@functools.cache
def default_bindings() -> dict[str, Binding]:
    return bind_catalog(default_catalog())


def _bind(spec: ProviderSpec, source: str) -> Binding:
    protocol = PROTOCOLS.get(spec.protocol)
    if protocol is None:
        raise CatalogError(f"{source}: protocol: unknown protocol {spec.protocol!r} (known: {', '.join(PROTOCOLS)})")
    signing = dict(spec.signing)
    scheme = SIGNING_SCHEMES.get(str(signing.pop("scheme", "none")))
    if scheme is None:
        known = ", ".join(SIGNING_SCHEMES)
        raise CatalogError(f"{source}: signing.scheme: unknown scheme {spec.signing.get('scheme')!r} (known: {known})")
    quirks = _validated(protocol.quirks_model, spec.quirks, f"{source}: quirks")
    params = _validated(scheme.params_model, signing, f"{source}: signing")
    fields = {f.variable for f in (*spec.credentials, *spec.model_credentials)}
    missing = scheme.reads(params) - fields
    if missing:
        raise CatalogError(f"{source}: signing reads credentials no form declares: {', '.join(sorted(missing))}")
    for variable in spec.credential_headers.values():
        if variable not in fields:
            raise CatalogError(f"{source}: credential_headers names unknown field {variable!r}")
    defaults = {f.variable: f.default for f in (*spec.credentials, *spec.model_credentials) if f.default}
    _check_form_quirks(spec, protocol, quirks, source)
    binding = Binding(
        spec=spec,
        protocol=protocol,
        quirks=quirks,
        scheme=scheme,
        signing_params=params,
        models={(m.type, m.id): m for m in spec.models},
        field_defaults=defaults,
        describing=_describing_variables(spec),
    )
    for model in (*spec.models, *spec.base_models):  # a typo in a model's quirks fails now, naming file and model
        try:
            binding.quirks_for(model)
        except CatalogError as exc:
            raise CatalogError(f"{source}: {exc}") from exc
    return binding


def _check_form_quirks(spec: ProviderSpec, protocol: WireProtocol, quirks: Spec, source: str) -> None:
    """The quirks a model form's options and text fields set must be ones the protocol knows, with good values."""
    known = protocol.quirks_model.model_fields
    for field_ in spec.model_credentials:
        if field_.quirk is not None and field_.quirk not in known:
            raise CatalogError(f"{source}: model_credentials.{field_.variable}.quirk: unknown quirk {field_.quirk!r}")
        for option in field_.options:
            if option.quirks:
                merged = {**quirks.model_dump(exclude_unset=True), **option.quirks}
                where = f"{source}: model_credentials.{field_.variable}.options.{option.value}.quirks"
                _validated(protocol.quirks_model, merged, where)


def _describing_variables(spec: ProviderSpec) -> frozenset[str]:
    """The well-known variables, those that set quirks or rules, and those their conditions read; never a secret."""
    variables = set(_DESCRIBING) | {spec.base_model_credential or ""}
    for field_ in spec.model_credentials:
        if field_.quirk is not None or any(option.quirks for option in field_.options):
            variables.add(field_.variable)
            variables.update(condition.variable for condition in field_.show_on)
    for rule in spec.model_parameter_rules:
        variables.update(condition.variable for condition in rule.show_on)
    return frozenset(variables - spec.secret_variables() - {""})


def _validated(model: type[Spec], raw: Mapping[str, Any], where: str) -> Spec:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise CatalogError(f"{where}.{location}: {first['msg']}") from exc


_DESCRIBING = frozenset(
    {
        "context_size",
        "max_tokens_to_sample",
        "max_tokens",
        "max_chunks",
        "mode",
        "function_calling_type",
        "stream_function_calling",
        "vision_support",
        "structured_output_support",
        "reasoning_support",
        "video_support",
        "audio_support",
        "document_support",
        "display_name",
        "voices",
        "dimensions",
    }
)


def _describing_values(values: Mapping[str, str], describing: frozenset[str]) -> tuple[tuple[str, str], ...]:
    # Only the variables that shape a custom model's spec: the cache key never holds a secret.
    return tuple(sorted((k, str(v)) for k, v in values.items() if k in describing))
