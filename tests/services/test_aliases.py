"""Model aliases as configuration: checked when written, in the workspace's snapshot, resolved from it."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.errors import ConflictError, InvalidRequestError, ModelNotFoundError, NotFoundError
from modelyard.services.aliases import parse_targets
from modelyard.services.resolve import resolve, resolve_alias
from modelyard.services.snapshot import AliasTarget

DEEPSEEK = AliasTarget("deepseek", "deepseek-flash", 2)
OPENAI = AliasTarget("openai", "gpt-5.4", 0)


@pytest.fixture
async def workspace(services, deepseek) -> str:
    workspace_id = (await services.workspaces.create("Aliases")).id
    await services.credentials.create(workspace_id=workspace_id, provider="deepseek", values=deepseek, validate=False)
    return workspace_id


async def test_an_alias_is_in_the_snapshot_and_resolves_to_its_usable_targets(services, workspace) -> None:
    before = (await services.snapshots.get(workspace)).version
    view = await services.aliases.create(workspace_id=workspace, name="smart", targets=[DEEPSEEK, OPENAI])

    snapshot = await services.snapshots.get(workspace)
    assert snapshot.version > before and snapshot.aliases["smart"].targets == (DEEPSEEK, OPENAI)
    resolved = resolve_alias(snapshot, "smart", "llm")
    assert resolved is not None and [t.name for t in resolved.targets] == ["deepseek/deepseek-flash"]  # no openai key
    assert (resolved.max_attempts, resolved.max_time_s) == (3, 30.0)
    assert resolve(snapshot, "smart", "llm").provider == "deepseek"  # a single model stands for it: its first
    assert resolve_alias(snapshot, "smart", "text-embedding") is None  # an alias is for calls of its own type

    assert [(t.provider, t.is_available, t.weight) for t in view.targets] == [
        ("deepseek", True, 2),
        ("openai", False, 0),
    ]
    assert "openai" in (view.targets[1].reason or "")


async def test_an_alias_none_of_whose_targets_can_be_called_says_why(services, workspace) -> None:
    await services.aliases.create(workspace_id=workspace, name="cloudy", targets=[AliasTarget("openai", "gpt-5.4", 1)])
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_alias(await services.snapshots.get(workspace), "cloudy", "llm")
    assert "openai/gpt-5.4" in str(caught.value) and caught.value.params["case"] == "alias_unusable"


async def test_update_and_delete_change_the_snapshot(services, workspace) -> None:
    await services.aliases.create(workspace_id=workspace, name="smart", targets=[DEEPSEEK])

    view = await services.aliases.update(
        workspace_id=workspace, name="smart", targets=[OPENAI, DEEPSEEK], max_attempts=5
    )
    assert [t.model for t in view.targets] == ["gpt-5.4", "deepseek-flash"] and view.max_attempts == 5
    assert view.max_time_s == 30  # what was not given stays
    assert (await services.snapshots.get(workspace)).aliases["smart"].max_attempts == 5

    await services.aliases.delete(workspace_id=workspace, name="smart")
    assert "smart" not in (await services.snapshots.get(workspace)).aliases
    with pytest.raises(NotFoundError):
        await services.aliases.delete(workspace_id=workspace, name="smart")


async def test_a_taken_name_is_a_conflict(services, workspace) -> None:
    await services.aliases.create(workspace_id=workspace, name="smart", targets=[DEEPSEEK])
    with pytest.raises(ConflictError):
        await services.aliases.create(workspace_id=workspace, name="smart", targets=[DEEPSEEK])


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "has/slash"}, "name", "no slash"),
        ({"name": "has space"}, "name", "letters, digits"),
        ({"name": "default"}, "name", "default model"),
        ({"name": "deepseek-flash"}, "name", "shadow"),  # a catalog model's bare name
        ({"name": "gpt-5.4"}, "name", "shadow"),  # even of a provider the workspace has not configured
        ({"targets": []}, "targets", "at least one"),
        ({"targets": [AliasTarget("nope", "x", 1)]}, "targets[0]", "unknown provider"),
        ({"targets": [AliasTarget("deepseek", "no-such-model", 1)]}, "targets[0]", "no llm model"),
        ({"targets": [DEEPSEEK, DEEPSEEK]}, "targets[1]", "twice"),
        ({"targets": [OPENAI]}, "targets", "weight above 0"),
        ({"model_type": "text-embedding"}, "targets[0]", "no text-embedding model"),
        ({"max_attempts": 0}, "max_attempts", "1 to 20"),
        ({"max_time_s": 601}, "max_time_s", "1 to 600"),
    ],
)
async def test_a_bad_alias_is_refused_naming_the_field(
    services, workspace, changes: dict[str, Any], field: str, words: str
) -> None:
    fields: dict[str, Any] = {"name": "smart", "targets": [DEEPSEEK], **changes}
    with pytest.raises(InvalidRequestError) as caught:
        await services.aliases.create(workspace_id=workspace, **fields)
    assert caught.value.field == field and words in str(caught.value)


async def test_a_custom_models_name_is_not_an_alias_name(services, workspace, fake_openai) -> None:
    values = {"endpoint_url": f"{fake_openai.url}/v1", "api_key": "sk-test-9f8e7d6c5b4a"}
    await services.models.add_custom(
        workspace_id=workspace,
        provider="openai_api_compatible",
        model="house-model",
        model_type="llm",
        values=values,
        validate=False,
    )
    with pytest.raises(InvalidRequestError) as caught:
        await services.aliases.create(workspace_id=workspace, name="house-model", targets=[DEEPSEEK])
    assert "openai_api_compatible/house-model" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("deepseek/deepseek-flash", "targets"),
        ([{"model": "deepseek/x", "weight": -1}], "targets[0]"),
        ([{"model": "deepseek/x", "weight": True}], "targets[0]"),
        ([{"model": "nothing-to-split"}], "targets[0]"),
        ([{"model": "deepseek/x", "extra": 1}], "targets[0]"),
        ([7], "targets[0]"),
    ],
)
def test_targets_from_a_face_are_checked(value: Any, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_targets(value)
    assert caught.value.field == field


def test_targets_from_a_face_take_both_spellings() -> None:
    spelled = ["deepseek/deepseek-flash", {"provider": "openrouter", "model": "meta/llama-4", "weight": 0}]
    parsed = parse_targets(spelled)
    assert parsed == [AliasTarget("deepseek", "deepseek-flash", 1), AliasTarget("openrouter", "meta/llama-4", 0)]
