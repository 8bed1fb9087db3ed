from __future__ import annotations

from datetime import date

import pytest

from modelyard.errors import (
    ConflictError,
    CredentialsNotConfiguredError,
    CredentialValidationError,
    InvalidRequestError,
    ModelDisabledError,
    ModelNotFoundError,
    NotFoundError,
)
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.resolve import resolve, usable_models
from modelyard.vault import SECRET_MASK
from tests.support.sql import sql_statements


@pytest.fixture
def xinference_values(fake_openai) -> dict[str, str]:
    return {"server_url": fake_openai.url, "model_uid": "uid-1", "api_key": "xi-key-0011223344556677"}


@pytest.fixture
def count_queries(services):
    """Counts SQL statements the services run, to prove a read path touches no database."""
    with sql_statements(services) as statements:
        yield statements


async def test_custom_model_is_validated_with_its_own_credentials(
    services, workspace, fake_openai, xinference_values
) -> None:
    added = await services.models.add_custom(
        workspace_id=workspace,
        provider="xinference",
        model="qwen3",
        model_type="llm",
        values=xinference_values | {"function_calling_type": "tool_call", "context_size": "32768"},
    )
    assert added.status == "verified"
    assert added.values["api_key"] == SECRET_MASK
    assert fake_openai.last.json["model"] == "uid-1"

    listed = await services.models.list(workspace_id=workspace, provider="xinference")
    assert [(m.model, m.is_custom, m.is_available) for m in listed] == [("qwen3", True, True)]
    assert listed[0].spec.supports("tool-call")
    assert listed[0].spec.properties.context_size == 32768


async def test_custom_models_are_refused_where_they_make_no_sense(services, workspace, xinference_values) -> None:
    with pytest.raises(InvalidRequestError, match="does not take custom models"):
        await services.models.add_custom(
            workspace_id=workspace, provider="deepseek", model="x", model_type="llm", values={}, validate=False
        )
    with pytest.raises(InvalidRequestError, match="model type must be one of"):
        await services.models.add_custom(
            workspace_id=workspace,
            provider="xinference",
            model="x",
            model_type="image",
            values=xinference_values,
            validate=False,
        )
    with pytest.raises(CredentialValidationError, match="model_uid is required"):
        await services.models.add_custom(
            workspace_id=workspace,
            provider="xinference",
            model="x",
            model_type="llm",
            values={"server_url": "http://h"},
            validate=False,
        )
    await services.models.add_custom(
        workspace_id=workspace,
        provider="xinference",
        model="x",
        model_type="llm",
        values=xinference_values,
        validate=False,
    )
    with pytest.raises(ConflictError):
        await services.models.add_custom(
            workspace_id=workspace,
            provider="xinference",
            model="x",
            model_type="llm",
            values=xinference_values,
            validate=False,
        )


async def test_disabling_a_model_makes_it_unusable_with_a_reason(services, workspace, fake_openai, deepseek) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    await services.models.set_enabled(
        workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm", enabled=False
    )
    snapshot = await services.snapshots.get(workspace)
    with pytest.raises(ModelDisabledError, match="disabled"):
        resolve(snapshot, "deepseek/deepseek-flash", "llm")
    with pytest.raises(NotFoundError):
        await services.models.set_enabled(
            workspace_id=workspace, provider="deepseek", model="gpt-4o", model_type="llm", enabled=False
        )


async def test_listings_are_built_once_per_configuration_and_follow_every_change(
    services, workspace, fake_openai, deepseek
) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    first = await services.models.list(workspace_id=workspace, provider="deepseek")
    first.clear()  # a caller's copy: what it does with it cannot reach the next listing
    listed = await services.models.list(workspace_id=workspace, provider="deepseek")
    assert listed and all(view.is_enabled for view in listed)
    assert await services.models.list(workspace_id=workspace, provider="no-such-provider") == []

    await services.models.set_enabled(
        workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm", enabled=False
    )

    after = {view.model: view for view in await services.models.list(workspace_id=workspace, provider="deepseek")}
    assert not after["deepseek-flash"].is_enabled and not after["deepseek-flash"].is_available
    providers = {view.spec.id: view for view in await services.providers.list(workspace_id=workspace)}
    assert providers["deepseek"].has_custom
    assert await services.providers.list(workspace_id=workspace, model_type="no-such-type") == []


async def test_names_resolve_as_provider_slash_model_bare_or_default(
    services, workspace, fake_openai, deepseek
) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    snapshot = await services.snapshots.get(workspace)
    assert resolve(snapshot, "deepseek/deepseek-v4-pro", "llm").model.id == "deepseek-v4-pro"
    assert resolve(snapshot, "deepseek-v4-pro", "llm").provider == "deepseek"
    assert resolve(snapshot, "default", "llm").provider == "deepseek"
    with pytest.raises(ModelNotFoundError, match="no usable llm model named 'gpt-4o'"):
        resolve(snapshot, "gpt-4o", "llm")
    with pytest.raises(CredentialsNotConfiguredError, match="add an API key for openai"):
        resolve(snapshot, "openai/gpt-4o", "llm")


async def test_a_bare_name_served_by_two_providers_is_ambiguous(
    services, workspace, fake_openai, xinference_values
) -> None:
    for provider, values in (("xinference", xinference_values), ("localai", {"server_url": fake_openai.url})):
        await services.models.add_custom(
            workspace_id=workspace, provider=provider, model="llama", model_type="llm", values=values, validate=False
        )
    snapshot = await services.snapshots.get(workspace)
    with pytest.raises(ModelNotFoundError, match=r"ambiguous.*localai/llama"):
        resolve(snapshot, "llama", "llm")
    assert resolve(snapshot, "localai/llama", "llm").provider == "localai"


async def test_default_models_set_get_clear_and_refuse_what_cannot_be_used(
    services, workspace, fake_openai, deepseek
) -> None:
    empty = await services.defaults.get(workspace_id=workspace, model_type="llm")
    assert (empty.source, empty.is_available) == (None, False)

    credential = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    automatic = await services.defaults.get(workspace_id=workspace, model_type="llm")
    assert (automatic.provider, automatic.model, automatic.source) == ("deepseek", "deepseek-flash", "automatic")

    with pytest.raises(CredentialsNotConfiguredError):
        await services.defaults.set(workspace_id=workspace, model_type="llm", provider="openai", model="gpt-4o")
    with pytest.raises(ModelNotFoundError):
        await services.defaults.set(workspace_id=workspace, model_type="llm", provider="deepseek", model="nope")
    with pytest.raises(InvalidRequestError):
        await services.defaults.set(workspace_id=workspace, model_type="chat", provider="deepseek", model="x")

    chosen = await services.defaults.set(
        workspace_id=workspace, model_type="llm", provider="deepseek", model="deepseek-v4-pro"
    )
    assert chosen.source == "chosen"
    assert (await services.defaults.get(workspace_id=workspace, model_type="llm")).model == "deepseek-v4-pro"

    await services.credentials.delete(workspace_id=workspace, credential_id=credential.id)
    stale = await services.defaults.get(workspace_id=workspace, model_type="llm")
    assert (stale.model, stale.source, stale.is_available) == ("deepseek-v4-pro", "chosen", False)
    assert "add an API key for deepseek" in (stale.reason or "")

    await services.defaults.clear(workspace_id=workspace, model_type="llm")
    assert (await services.defaults.get(workspace_id=workspace, model_type="llm")).source is None


async def test_reads_never_write_and_steady_state_reads_touch_no_database(
    services, workspace, fake_openai, deepseek, count_queries
) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    await services.snapshots.get(workspace)
    count_queries.clear()
    await services.defaults.get(workspace_id=workspace, model_type="llm")
    await services.models.list(workspace_id=workspace)
    await services.providers.list(workspace_id=workspace)
    assert count_queries == []


async def test_another_replicas_write_is_noticed_through_the_version(
    services, workspace, fake_openai, deepseek
) -> None:
    await services.snapshots.get(workspace)
    async with services.db.begin() as session:  # what another replica's write looks like from here
        from modelyard.services.workspaces import bump_version

        await bump_version(session, workspace_id=workspace)
    assert services.snapshots._snapshots.get(workspace) is not None
    await services.snapshots.check_versions()
    assert services.snapshots._snapshots.get(workspace) is None


async def test_preferred_provider_type_and_its_resolution(services, workspace, fake_openai, deepseek) -> None:
    services.hosted.providers["deepseek"] = HostedProvider(
        provider="deepseek",
        credentials={"api_key": "sk-hosted-000111222333", "endpoint_url": deepseek["endpoint_url"]},
        quota_type="trial",
        unit="times",
        limit=200,
    )
    await services.snapshots.invalidate(workspace)
    views = {v.spec.id: v for v in await services.providers.list(workspace_id=workspace)}
    assert (views["deepseek"].has_system, views["deepseek"].resolved_type) == (True, "system")

    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    views = {v.spec.id: v for v in await services.providers.list(workspace_id=workspace)}
    assert views["deepseek"].resolved_type == "custom"  # a workspace's own key wins by default

    await services.providers.set_preferred_type(workspace_id=workspace, provider="deepseek", preferred_type="system")
    snapshot = await services.snapshots.get(workspace)
    routes = resolve(snapshot, "deepseek/deepseek-flash", "llm").routes
    assert [r.provider_type for r in routes] == ["system", "custom"]
    with pytest.raises(InvalidRequestError):
        await services.providers.set_preferred_type(workspace_id=workspace, provider="deepseek", preferred_type="x")


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={})


async def test_a_deprecated_model_that_still_answers_is_usable_listed_and_ranked_last(
    services, workspace, fake_openai
) -> None:
    openai = {"openai_api_key": "sk-openai-0011223344556677", "openai_api_base": fake_openai.url}
    await services.credentials.create(workspace_id=workspace, provider="openai", values=openai, validate=False)
    await services.credentials.create(
        workspace_id=workspace, provider="anthropic", values={"anthropic_api_key": "sk-ant-0011"}, validate=False
    )
    snapshot = await services.snapshots.get(workspace)
    tts = usable_models(snapshot, "tts")
    assert ("openai", "tts-1", "tts") in tts  # every OpenAI TTS model is deprecated, and each still answers
    assert resolve(snapshot, "tts-1", "tts").provider == "openai"  # a bare name finds it too

    speech = await services.defaults.get(workspace_id=workspace, model_type="tts")
    assert (speech.source, speech.provider, speech.is_available) == ("automatic", "openai", True)
    chat = await services.defaults.get(workspace_id=workspace, model_type="llm")
    chosen = snapshot.providers[chat.provider].spec.model(chat.model, "llm")
    assert chosen is not None and not chosen.deprecated  # ranked last: a current model is picked first

    listed = {view.model: view for view in await services.models.list(workspace_id=workspace, provider="anthropic")}
    opus = listed["claude-opus-4-5"]
    assert (opus.is_deprecated, opus.shutdown_date, opus.is_available) == (True, date(2027, 1, 22), True)
    assert not listed["claude-opus-4-6"].is_deprecated


async def test_an_unavailable_model_says_why_with_a_code(services, workspace, fake_openai, deepseek) -> None:
    listed = {view.model: view for view in await services.models.list(workspace_id=workspace, provider="deepseek")}
    assert listed["deepseek-flash"].reason_code == "credentials_not_configured"
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    await services.models.set_enabled(
        workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm", enabled=False
    )
    listed = {view.model: view for view in await services.models.list(workspace_id=workspace, provider="deepseek")}
    assert (listed["deepseek-flash"].reason_code, listed["deepseek-v4-pro"].reason_code) == ("model_disabled", None)
