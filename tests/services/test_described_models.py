"""A custom Xinference model added with only its server and uid: what the server describes is stored with it."""

from __future__ import annotations

from tests.fakes.registry import FAKES, serving
from tests.fakes.xinference import llm_description


async def test_the_described_capabilities_are_stored_and_listed(services, workspace) -> None:
    async with serving(FAKES["xinference"]) as fake:
        fake.descriptions["uid-7"] = llm_description("chat", "tools", "vision", context_length=65536)
        added = await services.models.add_custom(
            workspace_id=workspace,
            provider="xinference",
            model="qwen3-vl",
            model_type="llm",
            values={"server_url": fake.url, "model_uid": "uid-7"},
        )
    assert added.status == "verified"
    assert (added.values["context_size"], added.values["function_calling_type"]) == ("65536", "tool_call")
    listed = await services.models.list(workspace_id=workspace, provider="xinference")
    spec = next(m.spec for m in listed if m.model == "qwen3-vl")
    assert (spec.properties.context_size, spec.supports("tool-call"), spec.supports("vision")) == (65536, True, True)
