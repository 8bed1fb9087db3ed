"""The schema of the catalog: what a provider file may say, validated once at start-up."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelyard.types.model_type import ModelType

ConfigurationMethod = Literal["predefined-model", "customizable-model", "fetch-from-remote"]
ModelFeature = Literal[
    "tool-call",
    "multi-tool-call",
    "stream-tool-call",
    "vision",
    "audio",
    "video",
    "document",
    "structured-output",
    "reasoning",
]
FieldType = Literal["text-input", "secret-input", "select", "radio", "switch"]
ParameterType = Literal["float", "int", "string", "boolean", "text"]

_VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# In a customizable model's form, `show_on` may name this pseudo-field: the type of the model being added (Dify's
# convention), so a field or an option (a base model, say) appears only for the model types it fits.
MODEL_TYPE_FIELD = "__model_type"


class Spec(BaseModel):
    """Base of every catalog value: immutable, and an unknown key is an error, not a silent no-op."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class I18nText(Spec):
    en_US: str
    zh_Hans: str | None = None

    def get(self, locale: str = "en_US") -> str:
        return (self.zh_Hans if locale == "zh_Hans" else None) or self.en_US


class ShowOn(Spec):
    """Show a form field only when another field has this value."""

    variable: str
    value: str


class FieldOption(Spec):
    value: str
    label: I18nText
    show_on: tuple[ShowOn, ...] = ()
    # What choosing it sets on a custom model: protocol quirks (checked against the protocol's quirks model at
    # start-up), so a self-hosted server's differences are a form choice, not code.
    quirks: dict[str, Any] = Field(default_factory=dict)


class FormField(Spec):
    """One input of a credential form."""

    variable: str
    label: I18nText
    type: FieldType
    required: bool = False
    default: str | None = None
    options: tuple[FieldOption, ...] = ()
    placeholder: I18nText | None = None
    help: I18nText | None = None
    show_on: tuple[ShowOn, ...] = ()
    max_length: int = Field(default=4096, gt=0)
    quirk: str | None = None  # the custom model's quirk a text field's value sets (left unset when empty)

    @field_validator("variable")
    @classmethod
    def _variable_is_a_slug(cls, value: str) -> str:
        if not _VARIABLE.match(value):
            raise ValueError(f"{value!r} must be a lowercase snake_case name")
        return value

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> FormField:
        if self.type in ("select", "radio") and not self.options:
            raise ValueError(f"{self.variable}: a {self.type} field needs options")
        if self.options and self.type not in ("select", "radio"):
            raise ValueError(f"{self.variable}: only select and radio fields take options")
        if self.options and self.default is not None and self.default not in {o.value for o in self.options}:
            raise ValueError(f"{self.variable}: default {self.default!r} is not one of its options")
        if self.type == "switch" and self.default not in (None, "true", "false"):
            raise ValueError(f"{self.variable}: a switch defaults to 'true' or 'false'")
        if self.quirk is not None and self.type != "text-input":
            raise ValueError(f"{self.variable}: only a text-input sets a quirk from its value (options set quirks)")
        return self

    @property
    def is_secret(self) -> bool:
        return self.type == "secret-input"


class Help(Spec):
    title: I18nText
    url: str


class Assumption(Spec):
    """A wire fact the vendor's documents leave open, and the behaviour chosen for it; published in the matrix."""

    fact: str
    choice: str  # what the protocol does, and why


class ParameterRule(Spec):
    """A parameter a model takes; `use_template` fills unset keys from catalog/parameter_templates.yaml.

    The runtime enforces it (runtime/parameters.py): a value outside `min`/`max` or `options`, or other than a
    vendor-`fixed` one, is handled by `action` (default: clamp a number into range, drop a fixed parameter,
    refuse an option the model does not take), and every adjustment is reported to the caller.
    """

    name: str
    use_template: str | None = None
    label: I18nText | None = None
    type: ParameterType | None = None
    help: I18nText | None = None
    required: bool = False
    default: float | int | str | bool | None = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: tuple[str, ...] = ()
    fixed: float | int | str | bool | None = None  # the vendor fixes it: never sent, a different value is reported
    action: Literal["drop", "clamp", "refuse"] | None = None  # for a value the model does not take
    source: str | None = None  # where the rule comes from (vendor page and date), for rules beyond the template
    # In a provider's `model_parameter_rules`: the custom models whose form holds these values take the rule.
    show_on: tuple[ShowOn, ...] = ()


class Voice(Spec):
    id: str
    name: str
    languages: tuple[str, ...] = ()


class ModelProperties(Spec):
    mode: Literal["chat", "completion"] | None = None
    context_size: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    max_chunks: int | None = Field(default=None, gt=0)  # embeddings: inputs per upstream request
    dimensions: int | None = Field(default=None, gt=0)  # embeddings: default vector size
    supports_dimensions: bool = False  # embeddings: accepts a requested size
    voices: tuple[Voice, ...] = ()  # tts
    default_voice: str | None = None
    audio_formats: tuple[str, ...] = ()  # tts output formats
    max_characters: int | None = Field(default=None, gt=0)  # tts input limit
    file_upload_limit_mb: int | None = Field(default=None, gt=0)  # speech2text
    supported_file_extensions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _default_voice_is_listed(self) -> ModelProperties:
        if self.default_voice and self.voices and self.default_voice not in {v.id for v in self.voices}:
            raise ValueError(f"default_voice {self.default_voice!r} is not among the voices")
        return self


class PriceTier(Spec):
    """Prices for a whole request whose prompt is longer than `above_prompt_tokens` (Gemini Pro past 200K, ...).

    A rate the tier leaves out is the base price's.
    """

    above_prompt_tokens: int = Field(gt=0)
    input: Decimal
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None


class Pricing(Spec):
    """Prices per `unit` of the basis: input 2.50 with unit 0.000001 means 2.50 per million tokens.

    Each part of a prompt has its rate: fresh input, cache reads (`cached_input`), cache writes that live five
    minutes (`cache_write`) or an hour (`cache_write_1h`); a rate left out is the input rate (1-hour writes:
    `cache_write`'s). `tiers` replace the rates for prompts past a size.
    """

    input: Decimal
    output: Decimal = Decimal(0)
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    tiers: tuple[PriceTier, ...] = ()
    unit: Decimal = Decimal("0.000001")
    currency: Literal["USD", "CNY", "EUR"] = "USD"
    basis: Literal["tokens", "characters", "seconds", "requests"] = "tokens"

    @model_validator(mode="after")
    def _tiers_ascend(self) -> Pricing:
        thresholds = [tier.above_prompt_tokens for tier in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tiers must be listed by ascending above_prompt_tokens, each once")
        if self.tiers and self.basis != "tokens":
            raise ValueError("only token prices take prompt-size tiers")
        return self


class ModelSpec(Spec):
    id: str
    label: I18nText | None = None
    type: ModelType
    features: tuple[ModelFeature, ...] = ()
    properties: ModelProperties = ModelProperties()
    parameter_rules: tuple[ParameterRule, ...] = ()
    # Overrides of the provider's `quirks:` for this model alone, validated by the protocol's quirks model.
    quirks: dict[str, Any] = Field(default_factory=dict)
    pricing: Pricing | None = None
    deprecated: bool = False  # still served, but the vendor announced its end: listed and usable, ranked last
    shutdown_date: date | None = None  # the day the vendor stops serving it, when announced

    @model_validator(mode="after")
    def _shutdown_means_deprecated(self) -> ModelSpec:
        if self.shutdown_date is not None and not self.deprecated:
            raise ValueError(f"{self.id}: a shutdown_date is given only for a deprecated model")
        return self

    def supports(self, feature: ModelFeature) -> bool:
        return feature in self.features

    @property
    def display_label(self) -> I18nText:
        return self.label or I18nText(en_US=self.id)


class ProviderSpec(Spec):
    id: str
    label: I18nText
    description: I18nText | None = None
    icon: str  # file name under catalog/icons/
    background: str | None = None  # card colour in the console
    help: Help | None = None
    supported_model_types: tuple[ModelType, ...]
    configuration_methods: tuple[ConfigurationMethod, ...]
    protocol: str  # module in modelyard/protocols that speaks to it
    # Where requests go. `{variable}` placeholders are filled from the credentials (or the field's default),
    # so self-hosted servers and regional endpoints need no code.
    base_url: str
    signing: dict[str, Any] = Field(default_factory=lambda: {"scheme": "none"})
    headers: dict[str, str] = Field(default_factory=dict)  # sent on every request
    credential_headers: dict[str, str] = Field(default_factory=dict)  # header -> credential variable, when set
    credentials: tuple[FormField, ...] = ()  # the provider-level form (predefined models)
    model_credentials: tuple[FormField, ...] = ()  # the per-model form (customizable models)
    # The types a custom model may be, when its form describes fewer than the provider serves (a predefined
    # provider's custom llms, say); empty: every supported type.
    custom_model_types: tuple[ModelType, ...] = ()
    upstream_model_credential: str | None = None  # a model credential that names the model upstream (a uid)
    base_model_credential: str | None = None  # a model credential that picks one of `base_models`
    quirks: dict[str, Any] = Field(default_factory=dict)  # validated by the protocol's quirks model
    models: tuple[ModelSpec, ...] = ()
    base_models: tuple[ModelSpec, ...] = ()  # templates custom models inherit features and prices from
    # Parameters the server of every custom llm takes beyond the common ones (Ollama's num_ctx, keep_alive ...),
    # so the console shows them and the runtime passes them; `show_on` limits one to models whose form says so.
    model_parameter_rules: tuple[ParameterRule, ...] = ()
    validate_with: str | None = None  # the model a credential check calls; default: the first non-deprecated llm
    # A provider credential field where the user names the llm a check calls instead (one their account may use,
    # where `validate_with` is not enabled for every account); empty: `validate_with`.
    validate_model_credential: str | None = None
    # Form fields whose values bound one credential's calls (catalog/call_limits.py): seconds to wait for the
    # answer to begin and between its chunks, and how often a call failing before its first byte is retried.
    timeout_credential: str | None = None
    retries_credential: str | None = None
    assumptions: tuple[Assumption, ...] = ()  # unverified wire facts and what the protocol chose

    @field_validator("id")
    @classmethod
    def _id_is_a_slug(cls, value: str) -> str:
        if not _VARIABLE.match(value):
            raise ValueError(f"{value!r} must be a lowercase snake_case id")
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> ProviderSpec:
        provider_fields = {f.variable for f in self.credentials}
        model_fields = {f.variable for f in self.model_credentials}
        every_field = provider_fields | model_fields
        for form_name, form in (("credentials", self.credentials), ("model_credentials", self.model_credentials)):
            names = [f.variable for f in form]
            if len(names) != len(set(names)):
                raise ValueError(f"{form_name}: a variable is listed twice")
            known = set(names)
            for f in form:
                for condition in (*f.show_on, *(c for o in f.options for c in o.show_on)):
                    if form_name == "model_credentials" and condition.variable == MODEL_TYPE_FIELD:
                        if condition.value not in self.supported_model_types:
                            raise ValueError(
                                f"{form_name}.{f.variable}: show_on {MODEL_TYPE_FIELD} {condition.value!r} is not "
                                "a supported model type"
                            )
                    elif condition.variable not in known:
                        raise ValueError(
                            f"{form_name}.{f.variable}: show_on names unknown field {condition.variable!r}"
                        )
        for placeholder in _PLACEHOLDER.findall(self.base_url):
            if placeholder not in every_field:
                raise ValueError(f"base_url: placeholder {{{placeholder}}} is not a credential field")
        for header, variable in self.credential_headers.items():
            if variable not in every_field:
                raise ValueError(f"credential_headers.{header}: {variable!r} is not a credential field")
        for name in ("upstream_model_credential", "base_model_credential"):
            variable = getattr(self, name)
            if variable is not None and variable not in model_fields:
                raise ValueError(f"{name}: {variable!r} is not a model credential field")
        if self.validate_model_credential is not None and self.validate_model_credential not in provider_fields:
            raise ValueError(f"validate_model_credential: {self.validate_model_credential!r} is not a credential field")
        for name in ("timeout_credential", "retries_credential"):
            variable = getattr(self, name)
            if variable is not None and variable not in every_field:
                raise ValueError(f"{name}: {variable!r} is not a credential field")
        if "customizable-model" in self.configuration_methods and not self.model_credentials:
            raise ValueError("a customizable-model provider needs model_credentials")
        if self.custom_model_types and "customizable-model" not in self.configuration_methods:
            raise ValueError("custom_model_types: the provider takes no custom models (customizable-model)")
        for kind in self.custom_model_types:
            if kind not in self.supported_model_types:
                raise ValueError(f"custom_model_types: {kind} is not in supported_model_types")
        for rule in self.model_parameter_rules:
            for condition in rule.show_on:
                if condition.variable not in model_fields:
                    raise ValueError(
                        f"model_parameter_rules.{rule.name}: show_on names unknown field {condition.variable!r}"
                    )
        if "predefined-model" in self.configuration_methods and not self.models:
            raise ValueError("a predefined-model provider lists its models")
        for group in ("models", "base_models"):
            keys = [(m.type, m.id) for m in getattr(self, group)]
            if len(keys) != len(set(keys)):
                raise ValueError(f"{group}: a model id is listed twice for the same type")
            for m in getattr(self, group):
                if m.type not in self.supported_model_types:
                    raise ValueError(f"{group}.{m.id}: type {m.type} is not in supported_model_types")
        if self.validate_with is not None and self.validate_with not in {m.id for m in self.models}:
            raise ValueError(f"validate_with: {self.validate_with!r} is not one of the models")
        return self

    def model(self, model_id: str, model_type: ModelType | None = None) -> ModelSpec | None:
        for candidate in self.models:
            if candidate.id == model_id and (model_type is None or candidate.type == model_type):
                return candidate
        return None

    @property
    def custom_types(self) -> tuple[ModelType, ...]:
        """The types a custom model of this provider may be."""
        return self.custom_model_types or self.supported_model_types

    def secret_variables(self) -> frozenset[str]:
        """Variables of either form whose values are secrets."""
        return frozenset(f.variable for f in (*self.credentials, *self.model_credentials) if f.is_secret)
