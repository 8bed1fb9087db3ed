"""Cross-Region inference: which model id a Bedrock call names, chosen per model and per call.

A catalog model is listed by its base id (`anthropic.claude-opus-4-8`). Its `cross_region` parameter rule says
which system-defined inference profiles it has (`none`: the base id, in-region; `geographic`: the profile of the
region's geography, `us.`/`eu.`/`apac.`...; `japan`: `jp.`, from Tokyo or Osaka only; `global`: `global.`) and
which one a call gets by default; a call may pick another of those with the `cross_region` parameter. A model
without the rule is called by its id as is, as is a custom model's own id (an application inference profile ARN
already names its regions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import InvalidRequestError
from modelyard.protocols.aws import quirks_of
from modelyard.protocols.base import Target

PARAMETER = "cross_region"
CHOICES = ("none", "geographic", "japan", "global")


def model_id(target: Target, extra: Mapping[str, Any]) -> str:
    """The id to call: the upstream model, with the inference profile's prefix the call or the model picks."""
    rule = next((r for r in target.model.parameter_rules if r.name == PARAMETER), None)
    asked = extra.get(PARAMETER)
    if rule is None:
        if asked not in (None, "none"):
            raise InvalidRequestError(
                f"{target.model.id} has no cross-Region inference profile: {PARAMETER} can only be none",
                field=PARAMETER,
            )
        return target.upstream_model
    choice = str(asked if asked is not None else rule.default or "none")
    if choice not in (rule.options or CHOICES):
        allowed = ", ".join(rule.options or CHOICES)
        raise InvalidRequestError(f"{PARAMETER} for {target.model.id} must be one of: {allowed}", field=PARAMETER)
    prefix = _prefix(target, choice)
    return f"{prefix}.{target.upstream_model}" if prefix else target.upstream_model


def _prefix(target: Target, choice: str) -> str | None:
    if choice == "none":
        return None
    if choice == "global":
        return "global"
    quirks = quirks_of(target)
    region = target.credentials.get(quirks.region_credential, "")
    if choice == "japan":
        if region not in quirks.japan_regions:
            raise InvalidRequestError(
                f"the Japan inference profiles are called from {' or '.join(quirks.japan_regions)}, not {region!r}",
                field=PARAMETER,
            )
        return "jp"
    for region_prefix in sorted(quirks.geographic_profiles, key=len, reverse=True):
        if region.startswith(region_prefix):
            return quirks.geographic_profiles[region_prefix]
    raise InvalidRequestError(
        f"no geographic inference profile is known for region {region!r}: choose global or none", field=PARAMETER
    )
