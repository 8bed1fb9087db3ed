"""Reads every provider file once at start-up; a broken file fails loudly, naming the file and the field."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from modelyard.catalog.sharing import share_equal_values
from modelyard.catalog.spec import ModelSpec, ParameterRule, ProviderSpec
from modelyard.errors import CatalogError, ModelNotFoundError

CATALOG_DIR = Path(__file__).parent
_POSITION_FILE = "_position.yaml"


class Catalog:
    """The providers this process knows, in catalog order (the order the console shows them)."""

    def __init__(self, providers: Mapping[str, ProviderSpec], sources: Mapping[str, Path], icons_dir: Path) -> None:
        self._providers = dict(providers)
        self._sources = dict(sources)
        self.icons_dir = icons_dir

    def __iter__(self) -> Iterator[ProviderSpec]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._providers

    def get(self, provider_id: str) -> ProviderSpec:
        try:
            return self._providers[provider_id]
        except KeyError:
            raise ModelNotFoundError(f"unknown provider {provider_id!r}").with_params(
                case="unknown_provider", provider=provider_id
            ) from None

    def source(self, provider_id: str) -> Path:
        return self._sources[provider_id]

    def icon_path(self, provider_id: str) -> Path:
        return self.icons_dir / self.get(provider_id).icon


@functools.cache
def default_catalog() -> Catalog:
    """The catalog shipped in the package, loaded once per process (from its compiled form when that is current)."""
    from modelyard.catalog.compiled import load_compiled

    return load_compiled(CATALOG_DIR, load_catalog)


def load_catalog(directory: Path | None = None) -> Catalog:
    directory = directory or CATALOG_DIR
    providers_dir = directory / "providers"
    templates = _read_yaml(directory / "parameter_templates.yaml")
    files = {path.stem: path for path in sorted(providers_dir.glob("*.yaml")) if path.name != _POSITION_FILE}
    order = _provider_order(providers_dir / _POSITION_FILE, files)
    providers: dict[str, ProviderSpec] = {}
    for provider_id in order:
        path = files[provider_id]
        spec = _load_provider(path, templates)
        if spec.id != provider_id:
            raise CatalogError(f"{path}: id {spec.id!r} does not match the file name")
        if not (directory / "icons" / spec.icon).is_file():
            raise CatalogError(f"{path}: icon {spec.icon!r} is not in {directory / 'icons'}")
        providers[provider_id] = spec
    return Catalog(share_equal_values(providers), files, directory / "icons")


def _provider_order(position_file: Path, files: Mapping[str, Path]) -> list[str]:
    listed = _read_yaml(position_file) if position_file.exists() else []
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise CatalogError(f"{position_file}: must be a list of provider ids")
    unknown = [provider_id for provider_id in listed if provider_id not in files]
    if unknown:
        raise CatalogError(f"{position_file}: lists providers without a file: {', '.join(unknown)}")
    return listed + sorted(set(files) - set(listed))


def _load_provider(path: Path, templates: Mapping[str, Any]) -> ProviderSpec:
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: must be a mapping")
    try:
        spec = ProviderSpec.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"{path}: {_describe(exc, raw)}") from exc
    try:
        return spec.model_copy(
            update={
                "models": tuple(_apply_templates(m, templates) for m in spec.models),
                "base_models": tuple(_apply_templates(m, templates) for m in spec.base_models),
                "model_parameter_rules": tuple(
                    ParameterRule.model_validate(_merged(rule, templates, "model_parameter_rules"))
                    for rule in spec.model_parameter_rules
                ),
            }
        )
    except (ValidationError, KeyError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def _apply_templates(model: ModelSpec, templates: Mapping[str, Any]) -> ModelSpec:
    """The model's rules, each merged in order: its template, then the rule as written, then the model's own limits.

    A rule as written is often shared by several models (a YAML anchor), so a limit the model states in its
    properties wins over it: the `max_tokens` rule's maximum is the model's `max_output_tokens`.
    """
    rules = []
    for rule in model.parameter_rules:
        merged = _merged(rule, templates, f"models.{model.id}.parameter_rules")
        rules.append(ParameterRule.model_validate(merged | _model_limits(model, rule.name, merged)))
    return model.model_copy(update={"parameter_rules": tuple(rules)})


def _merged(rule: ParameterRule, templates: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A rule's keys over its template's."""
    if rule.use_template is None:
        if rule.type is None:
            raise KeyError(f"{where}.{rule.name}: needs a type or use_template")
        return rule.model_dump(exclude_unset=True)
    if rule.use_template not in templates:
        raise KeyError(f"{where}.{rule.name}: unknown template {rule.use_template!r}")
    return dict(templates[rule.use_template]) | rule.model_dump(exclude_unset=True)


def _model_limits(model: ModelSpec, name: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """What the model's own properties set on a rule: the output limit bounds max_tokens, its default included."""
    limit = model.properties.max_output_tokens
    if name != "max_tokens" or limit is None:
        return {}
    default = rule.get("default")
    if isinstance(default, int | float) and not isinstance(default, bool) and default > limit:
        return {"max": limit, "default": limit}
    return {"max": limit}


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    problems = []
    for error in exc.errors()[:5]:
        parts = list(error["loc"])
        if len(parts) > 1 and parts[0] in ("models", "base_models") and isinstance(parts[1], int):
            entry = raw[str(parts[0])][parts[1]]
            if isinstance(entry, dict) and "id" in entry:  # name the model, not its position in the list
                parts[1] = str(entry["id"])
        location = ".".join(str(part) for part in parts) or "(top level)"
        problems.append(f"{location}: {error['msg']}")
    return "; ".join(problems)


def _read_yaml(path: Path) -> Any:
    import yaml  # here: a process that finds the compiled catalog (compiled.py) never parses YAML

    # libyaml's safe loader parses the catalog ~10x faster than the pure-Python one (3 s → 0.3 s at start-up).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
