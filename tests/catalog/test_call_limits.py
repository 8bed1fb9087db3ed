"""A credential's own timeout and retry count, read from its form values (catalog/call_limits.py)."""

from __future__ import annotations

import pytest

from modelyard.catalog import default_catalog
from modelyard.catalog.call_limits import NO_LIMITS, CallLimits, call_limits
from modelyard.errors import CredentialValidationError

XINFERENCE = default_catalog().get("xinference")


@pytest.mark.parametrize(
    ("values", "limits"),
    [
        ({}, CallLimits(None, 0)),
        ({"invoke_timeout": "", "max_retries": ""}, CallLimits(None, 0)),
        ({"invoke_timeout": "60", "max_retries": "3"}, CallLimits(60.0, 3)),
        ({"invoke_timeout": " 0.5 ", "max_retries": "0"}, CallLimits(0.5, 0)),
    ],
)
def test_the_form_values_set_the_limits(values, limits) -> None:
    assert call_limits(XINFERENCE, values) == limits


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"invoke_timeout": "soon"}, "invoke_timeout"),
        ({"invoke_timeout": "0"}, "invoke_timeout"),
        ({"invoke_timeout": "3601"}, "invoke_timeout"),
        ({"invoke_timeout": "nan"}, "invoke_timeout"),
        ({"max_retries": "2.5"}, "max_retries"),
        ({"max_retries": "-1"}, "max_retries"),
        ({"max_retries": "11"}, "max_retries"),
    ],
)
def test_a_value_out_of_range_or_no_number_is_refused_naming_its_field(values, field) -> None:
    with pytest.raises(CredentialValidationError) as caught:
        call_limits(XINFERENCE, values)
    assert caught.value.field == field


def test_providers_without_the_fields_have_no_limits_of_their_own() -> None:
    assert call_limits(default_catalog().get("deepseek"), {"invoke_timeout": "soon"}) is NO_LIMITS


@pytest.mark.parametrize("provider_id", ["xinference", "huggingface_tei", "gpustack"])
def test_dify_s_timeout_providers_offer_both_fields_on_the_model_form(provider_id: str) -> None:
    spec = default_catalog().get(provider_id)
    form = {field.variable for field in spec.model_credentials}
    assert {spec.timeout_credential, spec.retries_credential} <= form
