"""/console/api/providers and a workspace's providers: the catalog, icons, configuration status, credentials."""

from __future__ import annotations

import functools
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import TypeAdapter

from modelyard.catalog.loader import Catalog
from modelyard.console.auth import Manager, Reader, SignedIn, State
from modelyard.console.schemas import CredentialBody, CredentialUpdateBody, PreferredTypeBody
from modelyard.console.views import CredentialOut, ProviderOut, WorkspaceProviderOut
from modelyard.errors import ModelNotFoundError
from modelyard.types.model_type import ModelType

router = APIRouter(tags=["providers"])
NO_CONTENT = 204
ICON_CACHE = "public, max-age=86400"


@router.get(
    "/providers",
    response_model=list[ProviderOut],
    summary="The catalog: every provider, its model types and credential forms",
)
async def list_catalog(principal: SignedIn, state: State) -> Response:
    return Response(catalog_json(state.services.catalog), media_type="application/json")


@functools.cache
def catalog_json(catalog: Catalog) -> bytes:
    """The catalog never changes while the process runs: serialise it once."""
    return TypeAdapter(list[ProviderOut]).dump_json([ProviderOut.of(spec) for spec in catalog])


@router.get(
    "/providers/{provider}/icon",
    response_class=FileResponse,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The provider's icon"}},
    summary="A provider's icon (SVG): its vendor mark where one may be shown, else a monogram",
)
async def provider_icon(provider: str, state: State, variant: Literal["mark", "monogram"] = "mark") -> FileResponse:
    path = state.services.catalog.icon_path(provider)  # an unknown provider raises: 404
    if variant == "monogram":  # the lettered tile a vendor mark replaced (catalog/icons/SOURCES.md), if it did
        monogram = path.parent / "monograms" / path.name
        path = monogram if monogram.is_file() else path
    if not path.is_file():
        raise ModelNotFoundError(f"provider {provider!r} has no icon")
    headers = {"Cache-Control": ICON_CACHE, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    return FileResponse(path, media_type="image/svg+xml", headers=headers)


@router.get("/workspaces/{ws}/providers", summary="Every provider with the workspace's configuration and quota")
async def list_workspace_providers(
    member: Reader, state: State, model_type: ModelType | None = None
) -> list[WorkspaceProviderOut]:
    services = state.services
    views = await services.providers.list(workspace_id=member.workspace_id, model_type=model_type)
    quotas = {q.provider: q for q in await services.quota.status(workspace_id=member.workspace_id)}
    return [WorkspaceProviderOut.of(view, quotas.get(view.spec.id)) for view in views]


@router.put(
    "/workspaces/{ws}/providers/{provider}/preferred-type",
    summary="Prefer hosted (system) or own (custom) credentials; null chooses automatically (owner, admin)",
)
async def set_preferred_type(
    provider: str, body: PreferredTypeBody, member: Manager, state: State
) -> WorkspaceProviderOut:
    services = state.services
    await services.providers.set_preferred_type(
        workspace_id=member.workspace_id, provider=provider, preferred_type=body.preferred_type
    )
    view = next(v for v in await services.providers.list(workspace_id=member.workspace_id) if v.spec.id == provider)
    quotas = {q.provider: q for q in await services.quota.status(workspace_id=member.workspace_id)}
    return WorkspaceProviderOut.of(view, quotas.get(provider))


# --- credentials ----------------------------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/providers/{provider}/credentials", tags=["credentials"], summary="A provider's credentials"
)
async def list_credentials(provider: str, member: Reader, state: State) -> list[CredentialOut]:
    state.services.catalog.get(provider)  # an unknown provider is a 404, not an empty list
    views = await state.services.credentials.list(workspace_id=member.workspace_id, provider=provider)
    return [CredentialOut.model_validate(view) for view in views]


@router.post(
    "/workspaces/{ws}/providers/{provider}/credentials",
    status_code=201,
    tags=["credentials"],
    summary="Store credentials, after one test call unless validate is false (owner, admin)",
)
async def create_credential(provider: str, body: CredentialBody, member: Manager, state: State) -> CredentialOut:
    view = await state.services.credentials.create(
        workspace_id=member.workspace_id,
        provider=provider,
        values=body.values,
        name=body.name,
        validate=body.should_validate,
    )
    return CredentialOut.model_validate(view)


@router.get("/workspaces/{ws}/credentials/{credential_id}", tags=["credentials"], summary="One credential")
async def get_credential(credential_id: str, member: Reader, state: State) -> CredentialOut:
    view = await state.services.credentials.get(workspace_id=member.workspace_id, credential_id=credential_id)
    return CredentialOut.model_validate(view)


@router.patch(
    "/workspaces/{ws}/credentials/{credential_id}",
    tags=["credentials"],
    summary="Change a credential; a secret sent back as its mask is kept (owner, admin)",
)
async def update_credential(
    credential_id: str, body: CredentialUpdateBody, member: Manager, state: State
) -> CredentialOut:
    view = await state.services.credentials.update(
        workspace_id=member.workspace_id,
        credential_id=credential_id,
        values=body.values,
        name=body.name,
        validate=body.should_validate,
    )
    return CredentialOut.model_validate(view)


@router.delete(
    "/workspaces/{ws}/credentials/{credential_id}",
    status_code=NO_CONTENT,
    tags=["credentials"],
    summary="Delete a credential (owner, admin)",
)
async def delete_credential(credential_id: str, member: Manager, state: State) -> Response:
    await state.services.credentials.delete(workspace_id=member.workspace_id, credential_id=credential_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/workspaces/{ws}/credentials/{credential_id}/validate",
    tags=["credentials"],
    summary="Check a stored credential again with one call upstream (owner, admin)",
)
async def validate_credential(credential_id: str, member: Manager, state: State) -> CredentialOut:
    view = await state.services.credentials.validate(workspace_id=member.workspace_id, credential_id=credential_id)
    return CredentialOut.model_validate(view)


@router.post(
    "/workspaces/{ws}/credentials/{credential_id}/activate",
    tags=["credentials"],
    summary="Make this the provider's active credential (owner, admin)",
)
async def activate_credential(credential_id: str, member: Manager, state: State) -> CredentialOut:
    view = await state.services.credentials.activate(workspace_id=member.workspace_id, credential_id=credential_id)
    return CredentialOut.model_validate(view)
