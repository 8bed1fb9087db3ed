"""The console's resources end to end: credentials, API keys, models, defaults, load balancing, usage."""

from __future__ import annotations

import httpx2
import pytest
from pydantic import TypeAdapter

from modelyard.console.views import ModelOut
from modelyard.services.hosted import HostedConfig, HostedProvider
from tests.support import SECRET
from tests.support.console import API, Console, Team, error_of

MASK = "************"


@pytest.fixture
def hosted(fake_openai) -> HostedConfig:
    hosted = HostedProvider(
        "openai", {"openai_api_key": "sk-hosted", "openai_api_base": fake_openai.url}, "trial", "times", 5
    )
    return HostedConfig(providers={"openai": hosted})


@pytest.fixture
def ws(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


@pytest.fixture
def owner(team: Team) -> httpx2.AsyncClient:
    return team.owner


async def add_deepseek(owner: httpx2.AsyncClient, ws: str, values: dict, **body: object) -> dict:
    response = await owner.post(f"{ws}/providers/deepseek/credentials", json={"values": values, **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_catalog_lists_providers_with_their_forms(owner: httpx2.AsyncClient) -> None:
    providers = (await owner.get(f"{API}/providers")).json()

    deepseek = next(p for p in providers if p["id"] == "deepseek")
    assert deepseek["label"]["en_US"] == "DeepSeek"
    assert deepseek["icon_url"] == "/console/api/providers/deepseek/icon"
    assert [f["variable"] for f in deepseek["credential_schema"]] == ["api_key", "endpoint_url"]
    assert deepseek["credential_schema"][0]["type"] == "secret-input"
    icon = await owner.get(deepseek["icon_url"])
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert "max-age" in icon.headers["cache-control"]


async def test_a_credential_is_validated_stored_masked_and_kept_by_its_mask(
    owner: httpx2.AsyncClient, ws: str, deepseek, fake_openai
) -> None:
    created = await add_deepseek(owner, ws, deepseek)  # validate defaults to true: one call to the fake

    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"
    assert created["status"] == "verified"
    assert created["is_active"] is True
    assert created["values"] == {"api_key": MASK, "endpoint_url": deepseek["endpoint_url"]}
    url = f"{ws}/credentials/{created['id']}"
    assert (await owner.get(url)).json()["values"]["api_key"] == MASK

    kept = await owner.patch(url, json={"name": "Main", "values": {"api_key": MASK}})

    assert kept.status_code == 200
    assert kept.json()["name"] == "Main"
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"  # the stored secret was kept
    checked = await owner.post(f"{url}/validate")
    assert checked.json()["status"] == "verified"
    assert (await owner.delete(url)).status_code == 204
    assert (await owner.get(url)).status_code == 404


async def test_a_rejected_credential_is_400_and_not_stored(owner: httpx2.AsyncClient, ws: str, deepseek, fake_openai):
    fake_openai.fail(401, "Incorrect API key provided", code="invalid_api_key", type="authentication_error")

    response = await owner.post(f"{ws}/providers/deepseek/credentials", json={"values": deepseek})

    assert response.status_code == 400
    assert error_of(response)["code"] == "credentials_rejected"
    assert (await owner.get(f"{ws}/providers/deepseek/credentials")).json() == []


async def test_switching_the_active_credential(owner: httpx2.AsyncClient, ws: str, deepseek) -> None:
    first = await add_deepseek(owner, ws, deepseek, name="First", validate=False)
    second = await add_deepseek(owner, ws, deepseek, name="Second", validate=False)
    assert (first["is_active"], second["is_active"]) == (True, False)

    activated = await owner.post(f"{ws}/credentials/{second['id']}/activate")

    assert activated.json()["is_active"] is True
    listed = {c["name"]: c["is_active"] for c in (await owner.get(f"{ws}/providers/deepseek/credentials")).json()}
    assert listed == {"First": False, "Second": True}
    duplicate = await owner.post(
        f"{ws}/providers/deepseek/credentials", json={"name": "First", "values": deepseek, "validate": False}
    )
    assert duplicate.status_code == 409


async def test_providers_show_configuration_and_hosted_quota(owner: httpx2.AsyncClient, ws: str, deepseek) -> None:
    await add_deepseek(owner, ws, deepseek, validate=False)

    providers = {p["id"]: p for p in (await owner.get(f"{ws}/providers", params={"model_type": "llm"})).json()}

    assert providers["deepseek"]["has_custom"] is True
    assert providers["deepseek"]["resolved_type"] == "custom"
    assert providers["deepseek"]["quota"] is None
    openai = providers["openai"]
    assert (openai["has_system"], openai["resolved_type"]) == (True, "system")
    assert openai["quota"] == {"provider": "openai", "quota_type": "trial", "unit": "times", "limit": 5, "used": 0,
                               "remaining": 5, "is_exhausted": False}  # fmt: skip
    preferred = await owner.put(f"{ws}/providers/deepseek/preferred-type", json={"preferred_type": "system"})
    assert preferred.status_code == 200
    assert preferred.json()["preferred_type"] == "system"
    quota = (await owner.get(f"{ws}/quota")).json()
    assert [q["provider"] for q in quota] == ["openai"]


async def test_api_key_is_shown_once_and_works_on_the_gateway(owner: httpx2.AsyncClient, ws: str, deepseek) -> None:
    await add_deepseek(owner, ws, deepseek, validate=False)

    created = await owner.post(f"{ws}/api-keys", json={"name": "CI"})

    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"])
    listed = await owner.get(f"{ws}/api-keys")
    assert key not in listed.text
    assert [k["name"] for k in listed.json()] == ["CI"]
    assert "key" not in listed.json()[0]
    models = await owner.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert "deepseek/deepseek-flash" in {m["id"] for m in models.json()["data"]}
    revoked = await owner.delete(f"{ws}/api-keys/{created.json()['id']}")
    assert revoked.status_code == 204
    assert (await owner.get("/v1/models", headers={"Authorization": f"Bearer {key}"})).status_code == 401


async def test_the_model_listing_matches_its_documented_shape(owner: httpx2.AsyncClient, ws: str) -> None:
    """The listing is serialised without pydantic, for speed: hold it to the shape /openapi.json documents."""
    listed = (await owner.get(f"{ws}/models")).json()

    parsed = TypeAdapter(list[ModelOut]).validate_python(listed)

    assert len(parsed) > 100  # the whole catalog
    assert [m.model_dump(mode="json") for m in parsed] == listed


async def test_models_are_listed_and_switched(owner: httpx2.AsyncClient, ws: str, deepseek) -> None:
    await add_deepseek(owner, ws, deepseek, validate=False)
    models = (await owner.get(f"{ws}/models", params={"provider": "deepseek"})).json()
    flash = next(m for m in models if m["model"] == "deepseek-flash")
    assert (flash["is_enabled"], flash["is_available"], flash["provider_types"]) == (True, True, ["custom"])
    assert flash["label"]["en_US"]
    assert "tool-call" in flash["features"]
    assert flash["pricing"]["currency"] == "USD"

    off = await owner.patch(
        f"{ws}/models", json={"provider": "deepseek", "model": "deepseek-flash", "model_type": "llm", "enabled": False}
    )

    assert off.status_code == 200
    assert (off.json()["is_enabled"], off.json()["is_available"]) == (False, False)
    unknown = await owner.patch(
        f"{ws}/models", json={"provider": "deepseek", "model": "nope", "model_type": "llm", "enabled": False}
    )
    assert unknown.status_code == 404


async def test_parameter_rules_of_a_model(owner: httpx2.AsyncClient, ws: str) -> None:
    rules = await owner.get(
        f"{ws}/models/parameter-rules", params={"provider": "deepseek", "model": "deepseek-flash", "model_type": "llm"}
    )

    assert rules.status_code == 200
    by_name = {rule["name"]: rule for rule in rules.json()}
    assert by_name["max_tokens"]["max"] == 393216
    assert by_name["temperature"]["type"] == "float"  # filled in from the template


async def test_default_models_are_set_read_and_cleared(owner: httpx2.AsyncClient, ws: str, deepseek) -> None:
    await add_deepseek(owner, ws, deepseek, validate=False)

    chosen = await owner.put(f"{ws}/default-models/llm", json={"provider": "deepseek", "model": "deepseek-flash"})
    defaults = {d["model_type"]: d for d in (await owner.get(f"{ws}/default-models")).json()}
    refused = await owner.put(f"{ws}/default-models/llm", json={"provider": "deepseek", "model": "nope"})
    cleared = await owner.delete(f"{ws}/default-models/llm")

    assert chosen.status_code == 200
    assert defaults["llm"]["source"] == "chosen"
    assert defaults["llm"]["model"] == "deepseek-flash"
    assert refused.status_code == 404
    assert cleared.status_code == 204
    after = {d["model_type"]: d for d in (await owner.get(f"{ws}/default-models")).json()}
    assert after["llm"]["source"] in ("automatic", None)


async def test_load_balancing_entries_with_masked_values_and_live_state(
    owner: httpx2.AsyncClient, ws: str, deepseek
) -> None:
    credential = await add_deepseek(owner, ws, deepseek, validate=False)
    model = {"provider": "deepseek", "model": "deepseek-flash", "model_type": "llm"}

    own = await owner.post(
        f"{ws}/load-balancing", json={**model, "name": "own", "weight": 3, "values": deepseek, "validate": False}
    )
    shared = await owner.post(
        f"{ws}/load-balancing", json={**model, "name": "shared", "credential_id": credential["id"]}
    )
    both = await owner.post(
        f"{ws}/load-balancing",
        json={**model, "name": "both", "values": deepseek, "credential_id": credential["id"], "validate": False},
    )

    assert own.status_code == shared.status_code == 201
    assert both.status_code == 400
    assert own.json()["values"]["api_key"] == MASK
    entries = (await owner.get(f"{ws}/load-balancing", params=model)).json()
    assert [(e["name"], e["weight"], e["live_status"], e["is_inherit"]) for e in entries] == [
        ("__inherit__", 1, "available", True),  # the active credential, always an entry of the pool
        ("own", 3, "available", False),
        ("shared", 1, "available", False),
    ]
    assert entries[0]["credential_id"] == credential["id"]
    refused = await owner.delete(f"{ws}/load-balancing/{entries[0]['id']}")
    assert refused.status_code == 400
    switched = await owner.patch(f"{ws}/models", json={**model, "load_balancing": True})
    assert switched.json()["is_load_balanced"] is True
    disabled = await owner.patch(f"{ws}/load-balancing/{own.json()['id']}", json={"enabled": False, "weight": 2})
    assert (disabled.json()["is_enabled"], disabled.json()["live_status"], disabled.json()["weight"]) == (
        False,
        "disabled",
        2,
    )
    assert (await owner.post(f"{ws}/load-balancing/{shared.json()['id']}/validate")).status_code == 200
    assert (await owner.delete(f"{ws}/load-balancing/{own.json()['id']}")).status_code == 204


async def test_custom_models_are_added_read_changed_and_deleted(owner: httpx2.AsyncClient, ws: str, fake_openai):
    values = {"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET}

    added = await owner.post(
        f"{ws}/providers/openai_api_compatible/custom-models",
        json={"model": "my-llama", "model_type": "llm", "values": values},
    )

    assert added.status_code == 201, added.text
    custom = added.json()
    assert (custom["model"], custom["status"], custom["values"]["api_key"]) == ("my-llama", "verified", MASK)
    url = f"{ws}/custom-models/{custom['id']}"
    listed = (await owner.get(f"{ws}/providers/openai_api_compatible/custom-models")).json()
    assert [c["id"] for c in listed] == [custom["id"]]
    changed = await owner.patch(url, json={"values": {"api_key": MASK, "context_size": "8192"}, "validate": False})
    assert changed.json()["values"]["context_size"] == "8192"
    assert (await owner.post(f"{url}/validate")).json()["status"] == "verified"
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"
    models = (await owner.get(f"{ws}/models", params={"provider": "openai_api_compatible"})).json()
    assert [(m["model"], m["is_custom"]) for m in models] == [("my-llama", True)]
    assert (await owner.delete(url)).status_code == 204
    assert (await owner.get(url)).status_code == 404


async def test_custom_models_are_refused_where_the_provider_takes_none(owner: httpx2.AsyncClient, ws: str, deepseek):
    response = await owner.post(
        f"{ws}/providers/deepseek/custom-models", json={"model": "x", "model_type": "llm", "values": deepseek}
    )

    assert response.status_code == 400
    assert error_of(response)["field"] == "provider"


async def test_remote_models_come_from_the_providers_listing(owner: httpx2.AsyncClient, ws: str, fake_openai):
    credentials = {"openai_api_key": SECRET, "openai_api_base": fake_openai.url}
    await owner.post(f"{ws}/providers/openai/credentials", json={"values": credentials, "validate": False})

    response = await owner.get(f"{ws}/providers/openai/remote-models")

    assert response.status_code == 200, response.text
    assert all(set(model) == {"id", "owned_by"} for model in response.json())
    assert response.json()


async def test_usage_totals_and_records_after_a_gateway_call(
    console: Console, owner: httpx2.AsyncClient, ws: str, deepseek, fake_openai
) -> None:
    await add_deepseek(owner, ws, deepseek, validate=False)
    key = (await owner.post(f"{ws}/api-keys", json={"name": "usage"})).json()["key"]
    fake_openai.reply_chat("Hi!", usage=(7, 3))
    chat = await owner.post(
        "/v1/chat/completions",
        json={"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert chat.status_code == 200
    await console.services.invoker.drain()
    await console.services.usage.flush()

    totals = (await owner.get(f"{ws}/usage", params={"group_by": "provider,model"})).json()
    records = (await owner.get(f"{ws}/usage/records", params={"limit": 5})).json()

    assert totals == [{"day": None, "api_key_id": None, "provider": "deepseek", "model": "deepseek-flash",
                       "model_type": None, "calls": 1, "errors": 0, "cache_hits": 0, "prompt_tokens": 7,
                       "completion_tokens": 3, "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
                       "total_price": totals[0]["total_price"], "currency": "USD"}]  # fmt: skip
    assert [(r["provider"], r["prompt_tokens"], r["status"]) for r in records] == [("deepseek", 7, "success")]


async def test_workspaces_are_created_renamed_and_deleted(console: Console) -> None:
    await console.account("solo@example.com")
    client = await console.sign_in("solo@example.com")

    created = (await client.post(f"{API}/workspaces", json={"name": "Solo"})).json()
    renamed = await client.patch(f"{API}/workspaces/{created['id']}", json={"name": "Duo"})
    listed = (await client.get(f"{API}/workspaces")).json()
    deleted = await client.delete(f"{API}/workspaces/{created['id']}")

    assert created["role"] == "owner"
    assert renamed.json() == {"id": created["id"], "name": "Duo", "role": "owner"}
    assert listed == [{"id": created["id"], "name": "Duo", "role": "owner"}]
    assert deleted.status_code == 204
    assert (await client.get(f"{API}/workspaces")).json() == []
    assert (await client.get(f"{API}/workspaces/{created['id']}/models")).status_code == 404
