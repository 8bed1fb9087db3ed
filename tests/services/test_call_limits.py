"""A credential's own timeout and retries are checked when it is saved, even without a live check."""

from __future__ import annotations

import pytest

from modelyard.errors import CredentialValidationError


@pytest.mark.parametrize(("field", "value"), [("invoke_timeout", "soon"), ("max_retries", "99")])
async def test_a_timeout_or_retry_count_out_of_range_is_refused_naming_its_field(
    services, workspace, fake_openai, field, value
) -> None:
    values = {"server_url": fake_openai.url, "model_uid": "uid-1", field: value}
    with pytest.raises(CredentialValidationError) as caught:
        await services.models.add_custom(
            workspace_id=workspace, provider="xinference", model="m", model_type="llm", values=values, validate=False
        )
    assert caught.value.field == field
    assert await services.models.list_custom(workspace_id=workspace, provider="xinference") == []
