"""catalog/forms.py: a form's values are checked, defaults filled, and fields `show_on` hides keep no value."""

from __future__ import annotations

import pytest

from modelyard.catalog.forms import check_values
from modelyard.catalog.loader import default_catalog
from modelyard.errors import CredentialValidationError

LLM_ONLY = {"function_calling_type", "stream_function_calling", "vision_support", "structured_output_support"}


def test_a_custom_embedding_model_keeps_no_llm_settings_given_or_defaulted() -> None:
    form = default_catalog().get("openai_api_compatible").model_credentials
    given = {"endpoint_url": "http://127.0.0.1:9/v1", "function_calling_type": "tool_call", "max_chunks": "8"}

    embedding = check_values(form, given, model_type="text-embedding")
    chat = check_values(form, given, model_type="llm")

    assert not LLM_ONLY & set(embedding) and embedding["max_chunks"] == "8"
    assert chat["function_calling_type"] == "tool_call" and chat["vision_support"] == "no_support"
    assert "max_chunks" not in chat
    assert set(check_values(form, given)) >= LLM_ONLY  # the type unknown: nothing is hidden for it


def test_a_field_hidden_by_another_fields_value_is_neither_required_nor_stored() -> None:
    form = default_catalog().get("hunyuan").credentials
    openai_style = {"endpoint": "https://api.hunyuan.cloud.tencent.com/v1", "api_key": "k", "secret_id": "left over"}

    assert "secret_id" not in check_values(form, openai_style)
    with pytest.raises(CredentialValidationError) as caught:
        check_values(form, {"endpoint": "https://hunyuan.tencentcloudapi.com", "api_key": "k"})
    assert caught.value.field == "secret_id"
