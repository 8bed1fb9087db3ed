from __future__ import annotations

import pytest

from modelyard.catalog import default_catalog
from modelyard.errors import DecryptionError, NotFoundError
from modelyard.services.sealed import open_values, seal_values


async def test_a_workspace_gets_its_own_key_pair(services) -> None:
    first = await services.workspaces.create("One")
    second = await services.workspaces.create("Two")
    form = default_catalog().get("deepseek").credentials
    async with services.db() as session:
        vault_one = await services.vaults.vault(session, workspace_id=first.id)
        vault_two = await services.vaults.vault(session, workspace_id=second.id)
    sealed = seal_values(vault_one, form, {"api_key": "sk-abcdef0123456789"})
    assert open_values(vault_one, sealed) == {"api_key": "sk-abcdef0123456789"}
    with pytest.raises(DecryptionError):
        open_values(vault_two, sealed)


async def test_unknown_workspace_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.workspaces.get("ws_nope")
