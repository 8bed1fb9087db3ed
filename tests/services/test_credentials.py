from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select, text

from modelyard.errors import ConflictError, CredentialValidationError, DecryptionError, NotFoundError
from modelyard.services.context import Services
from modelyard.store.tables import ProviderCredential
from modelyard.vault import SECRET_MASK, MasterKeyError
from tests.support import SECRET, make_settings


async def test_saving_checks_the_key_live_and_stores_it_sealed(services, workspace, fake_openai, deepseek) -> None:
    saved = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)

    assert saved.status == "verified"
    assert saved.checked_at is not None
    assert saved.is_active
    assert saved.values == {"api_key": SECRET_MASK, "endpoint_url": deepseek["endpoint_url"]}
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"
    async with services.db() as session:
        stored = (await session.scalars(select(ProviderCredential.sealed_values))).one()
    assert SECRET not in stored
    assert orjson.loads(stored)["sealed"]["api_key"].startswith("v1:")


async def test_a_refused_key_is_not_stored(services, workspace, fake_openai, deepseek) -> None:
    fake_openai.fail(401, "Authentication Fails", code="invalid_api_key")
    with pytest.raises(CredentialValidationError, match="Authentication Fails"):
        await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    assert await services.credentials.list(workspace_id=workspace) == []


async def test_opting_out_of_validation_stores_it_unverified(services, workspace, fake_openai, deepseek) -> None:
    saved = await services.credentials.create(
        workspace_id=workspace, provider="deepseek", values=deepseek, validate=False
    )
    assert saved.status == "unverified"
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("values", "field"),
    [({}, "api_key"), ({"api_key": SECRET, "colour": "red"}, "colour"), ({"api_key": ["a"]}, "api_key")],
)
async def test_bad_values_are_refused_naming_the_field(services, workspace, values, field) -> None:
    with pytest.raises(CredentialValidationError) as caught:
        await services.credentials.create(workspace_id=workspace, provider="deepseek", values=values, validate=False)
    assert caught.value.field == field


async def test_sending_the_mask_back_keeps_the_secret_and_a_partial_update_keeps_the_rest(
    services, workspace, fake_openai, deepseek
) -> None:
    saved = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    updated = await services.credentials.update(
        workspace_id=workspace, credential_id=saved.id, values={"api_key": SECRET_MASK}, name="Main key"
    )
    assert updated.name == "Main key"
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"  # the stored key was used again

    await services.credentials.update(
        workspace_id=workspace, credential_id=saved.id, values={"api_key": "sk-new-key-000111222333"}
    )
    assert fake_openai.last.headers["authorization"] == "Bearer sk-new-key-000111222333"
    assert (await services.credentials.get(workspace_id=workspace, credential_id=saved.id)).values[
        "endpoint_url"
    ] == deepseek["endpoint_url"]


async def test_several_named_credentials_one_active(services, workspace, fake_openai, deepseek) -> None:
    first = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, name="A")
    second = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, name="B")
    assert (first.is_active, second.is_active) == (True, False)
    with pytest.raises(ConflictError, match="named 'A'"):
        await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, name="A")

    await services.credentials.activate(workspace_id=workspace, credential_id=second.id)
    listed = {c.name: c.is_active for c in await services.credentials.list(workspace_id=workspace)}
    assert listed == {"A": False, "B": True}

    await services.credentials.delete(workspace_id=workspace, credential_id=second.id)
    assert [(c.name, c.is_active) for c in await services.credentials.list(workspace_id=workspace)] == [("A", True)]


async def test_revalidation_records_failing_with_the_error(services, workspace, fake_openai, deepseek) -> None:
    saved = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    fake_openai.fail(401, "key revoked", code="invalid_api_key")
    checked = await services.credentials.validate(workspace_id=workspace, credential_id=saved.id)
    assert checked.status == "failing"
    assert "key revoked" in (checked.last_error or "")


async def test_another_workspace_cannot_see_or_touch_a_credential(services, workspace, fake_openai, deepseek) -> None:
    saved = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    other = (await services.workspaces.create("Other")).id
    assert await services.credentials.list(workspace_id=other) == []
    for action in (services.credentials.get, services.credentials.delete, services.credentials.activate):
        with pytest.raises(NotFoundError):
            await action(workspace_id=other, credential_id=saved.id)
    with pytest.raises(NotFoundError):
        await services.credentials.update(workspace_id=other, credential_id=saved.id, values={})


async def test_key_rotation_reseals_every_secret(services, workspace, fake_openai, deepseek) -> None:
    saved = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    async with services.db() as session:
        before = (await session.scalars(select(ProviderCredential.sealed_values))).one()
    new_key = await services.workspaces.rotate_keys(workspace)
    async with services.db() as session:
        after = (await session.scalars(select(ProviderCredential.sealed_values))).one()
    assert before != after
    assert new_key in after
    snapshot = await services.snapshots.get(workspace)
    assert snapshot.providers["deepseek"].credentials == deepseek
    assert snapshot.providers["deepseek"].credential_id == saved.id


async def test_tampered_ciphertext_is_a_named_decryption_error(services, workspace, fake_openai, deepseek) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    async with services.db.begin() as session:
        row = (await session.scalars(select(ProviderCredential))).one()
        row.sealed_values = row.sealed_values.replace('"v1:', '"v1:x', 1)
    await services.snapshots.invalidate(workspace)
    with pytest.raises(DecryptionError, match=workspace):
        await services.snapshots.get(workspace)


async def test_a_wrong_master_key_stops_start_up_with_a_message(database, tmp_path, runtime, hosted) -> None:
    backend, schema = database
    first = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    await first.start()
    await first.close()
    wrong = make_settings(tmp_path, backend, schema, secret_key="another-master-key-9876543210abcdefghijkl")
    second = Services(wrong, runtime=runtime, hosted=hosted)
    with pytest.raises(MasterKeyError, match="not the one this database was created with"):
        await second.start()
    await second.close()


async def test_the_master_key_file_is_made_private_on_first_run(database, tmp_path, runtime, hosted) -> None:
    backend, schema = database
    settings = make_settings(tmp_path, backend, schema, secret_key=None)
    services = Services(settings, runtime=runtime, hosted=hosted)
    await services.start()
    await services.close()
    assert ((tmp_path / "master.key").stat().st_mode & 0o777) == 0o600


async def test_no_plaintext_secret_anywhere_in_the_database(services, workspace, fake_openai, deepseek) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    await services.models.add_custom(
        workspace_id=workspace,
        provider="xinference",
        model="qwen",
        model_type="llm",
        values={"server_url": fake_openai.url, "model_uid": "qwen", "api_key": "xi-secret-445566778899"},
    )
    dump = []
    async with services.db() as session:
        for table in ("provider_credentials", "custom_models", "workspace_keys", "system_settings"):
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                dump.append(repr(tuple(row)))
    everything = "\n".join(dump)
    assert SECRET not in everything
    assert "xi-secret-445566778899" not in everything
