"""Targets for protocol tests, built without the shipped catalog so adapters are tested on their own."""

from __future__ import annotations

from typing import Any

from modelyard.catalog.spec import ModelSpec, ProviderSpec
from modelyard.protocols.base import Target
from modelyard.protocols.openai import OpenAIQuirks


def provider(**overrides: Any) -> ProviderSpec:
    raw: dict[str, Any] = {
        "id": "acme",
        "label": {"en_US": "Acme"},
        "icon": "acme.svg",
        "supported_model_types": ["llm", "text-embedding", "rerank", "speech2text", "tts", "moderation"],
        "configuration_methods": ["customizable-model"],
        "protocol": "openai",
        "base_url": "{endpoint_url}",
        "signing": {"scheme": "bearer", "credential": "api_key"},
        "model_credentials": [
            {"variable": "endpoint_url", "label": {"en_US": "URL"}, "type": "text-input", "required": True},
            {"variable": "api_key", "label": {"en_US": "Key"}, "type": "secret-input", "required": True},
        ],
    }
    raw.update(overrides)
    return ProviderSpec.model_validate(raw)


def target(
    model_type: str = "llm",
    *,
    model_id: str = "acme-1",
    features: tuple[str, ...] = ("tool-call", "vision", "structured-output"),
    properties: dict[str, Any] | None = None,
    quirks: OpenAIQuirks | None = None,
    base_url: str = "https://api.acme.test/v1",
    credentials: dict[str, str] | None = None,
    upstream_model: str | None = None,
    **provider_overrides: Any,
) -> Target:
    model = ModelSpec.model_validate(
        {"id": model_id, "type": model_type, "features": list(features), "properties": properties or {}}
    )
    return Target(
        provider=provider(**provider_overrides),
        model=model,
        base_url=base_url,
        upstream_model=upstream_model or model_id,
        credentials=credentials or {"api_key": "sk-test-0123456789", "endpoint_url": base_url},
        quirks=quirks or OpenAIQuirks(),
    )
