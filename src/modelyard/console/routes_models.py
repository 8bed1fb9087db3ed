"""A workspace's models: the list with switches, parameter rules, remote listings, custom models, defaults."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from modelyard.catalog.spec import ModelSpec, ParameterRule
from modelyard.console.auth import Manager, Reader, State
from modelyard.console.schemas import CustomModelBody, CustomModelUpdateBody, DefaultModelBody, ModelSwitchBody
from modelyard.console.views import CustomModelOut, DefaultModelOut, ModelOut, RemoteModelOut
from modelyard.errors import InvalidRequestError, NotFoundError
from modelyard.services.context import Services
from modelyard.services.models import ModelView
from modelyard.types.model_type import ModelType

router = APIRouter(tags=["models"])
NO_CONTENT = 204
ProviderQuery = Annotated[str, Query(min_length=1, max_length=64)]
ModelQuery = Annotated[str, Query(min_length=1, max_length=255)]


def model_json(view: ModelView) -> dict[str, Any]:
    """A model as ModelOut describes it, as plain JSON data: listings skip pydantic (see `_catalog_part`)."""
    return {
        "provider": view.provider,
        "model": view.model,
        "model_type": view.model_type,
        **_catalog_part(view.spec),
        "is_custom": view.is_custom,
        "is_enabled": view.is_enabled,
        "is_load_balanced": view.is_load_balanced,
        "is_available": view.is_available,
        "reason": view.reason,
        "reason_code": view.reason_code,
        "reason_params": dict(view.reason_params),
        "provider_types": list(view.provider_types),
    }


_CATALOG_PARTS: dict[int, tuple[ModelSpec, dict[str, Any]]] = {}  # id(spec) -> (spec, its JSON); the spec pins the id
_CATALOG_PARTS_MAX = 10_000


def _catalog_part(spec: ModelSpec) -> dict[str, Any]:
    """What a listing says from the catalog alone, dumped once per spec: validating and dumping ~200 models per
    request through pydantic took longer than the listing itself."""
    cached = _CATALOG_PARTS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    if len(_CATALOG_PARTS) >= _CATALOG_PARTS_MAX:  # custom models' specs are rebuilt with each snapshot
        _CATALOG_PARTS.clear()
    part = {
        "label": spec.display_label.model_dump(mode="json"),
        "features": list(spec.features),
        "properties": spec.properties.model_dump(mode="json"),
        "pricing": spec.pricing.model_dump(mode="json") if spec.pricing is not None else None,
        "deprecated": spec.deprecated,
        "shutdown_date": spec.shutdown_date.isoformat() if spec.shutdown_date is not None else None,
    }
    _CATALOG_PARTS[id(spec)] = (spec, part)
    return part


def json_response(data: object) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def find_model(services: Services, workspace_id: str, provider: str, model: str, model_type: str) -> ModelView:
    services.catalog.get(provider)  # an unknown provider: 404 naming it
    for view in await services.models.list(workspace_id=workspace_id, provider=provider, model_type=model_type):
        if view.model == model:
            return view
    raise NotFoundError(f"[{provider}] has no {model_type} model {model!r} in this workspace")


@router.get(
    "/workspaces/{ws}/models",
    response_model=list[ModelOut],
    summary="Every model the workspace has, with whether it can be called now",
)
async def list_models(
    member: Reader,
    state: State,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    model_type: ModelType | None = None,
) -> Response:
    if provider is not None:
        state.services.catalog.get(provider)
    views = await state.services.models.list(workspace_id=member.workspace_id, provider=provider, model_type=model_type)
    return json_response([model_json(view) for view in views])


@router.patch(
    "/workspaces/{ws}/models",
    response_model=ModelOut,
    summary="Enable or disable a model, or switch its load balancing",
)
async def switch_model(body: ModelSwitchBody, member: Manager, state: State) -> Response:
    if body.enabled is None and body.load_balancing is None:
        raise InvalidRequestError("give enabled, load_balancing, or both", field="enabled")
    models, ws = state.services.models, member.workspace_id
    if body.enabled is not None:
        await models.set_enabled(
            workspace_id=ws, provider=body.provider, model=body.model, model_type=body.model_type, enabled=body.enabled
        )
    if body.load_balancing is not None:
        await models.set_load_balancing(
            workspace_id=ws,
            provider=body.provider,
            model=body.model,
            model_type=body.model_type,
            enabled=body.load_balancing,
        )
    view = await find_model(state.services, member.workspace_id, body.provider, body.model, body.model_type)
    return json_response(model_json(view))


@router.get("/workspaces/{ws}/models/parameter-rules", summary="The parameters a model takes, for a settings form")
async def parameter_rules(
    member: Reader, state: State, provider: ProviderQuery, model: ModelQuery, model_type: ModelType = "llm"
) -> list[ParameterRule]:
    view = await find_model(state.services, member.workspace_id, provider, model, model_type)
    return list(view.spec.parameter_rules)


@router.get(
    "/workspaces/{ws}/providers/{provider}/remote-models",
    summary="The models the provider's own API lists for the workspace's credentials",
)
async def remote_models(provider: str, member: Reader, state: State) -> list[RemoteModelOut]:
    listed = await state.services.models.remote(workspace_id=member.workspace_id, provider=provider)
    return [RemoteModelOut(id=m.id, owned_by=m.owned_by) for m in listed]


# --- custom models --------------------------------------------------------------------------------------------


@router.get("/workspaces/{ws}/providers/{provider}/custom-models", tags=["custom models"], summary="Custom models")
async def list_custom_models(provider: str, member: Reader, state: State) -> list[CustomModelOut]:
    state.services.catalog.get(provider)
    views = await state.services.models.list_custom(workspace_id=member.workspace_id, provider=provider)
    return [CustomModelOut.model_validate(view) for view in views]


@router.post(
    "/workspaces/{ws}/providers/{provider}/custom-models",
    status_code=201,
    tags=["custom models"],
    summary="Add a model by name with its own credentials, after one test call (owner, admin)",
)
async def add_custom_model(provider: str, body: CustomModelBody, member: Manager, state: State) -> CustomModelOut:
    view = await state.services.models.add_custom(
        workspace_id=member.workspace_id,
        provider=provider,
        model=body.model,
        model_type=body.model_type,
        values=body.values,
        validate=body.should_validate,
    )
    return CustomModelOut.model_validate(view)


@router.get("/workspaces/{ws}/custom-models/{custom_model_id}", tags=["custom models"], summary="One custom model")
async def get_custom_model(custom_model_id: str, member: Reader, state: State) -> CustomModelOut:
    view = await state.services.models.get_custom(workspace_id=member.workspace_id, custom_model_id=custom_model_id)
    return CustomModelOut.model_validate(view)


@router.patch(
    "/workspaces/{ws}/custom-models/{custom_model_id}",
    tags=["custom models"],
    summary="Change a custom model's credentials; a secret sent back as its mask is kept (owner, admin)",
)
async def update_custom_model(
    custom_model_id: str, body: CustomModelUpdateBody, member: Manager, state: State
) -> CustomModelOut:
    view = await state.services.models.update_custom(
        workspace_id=member.workspace_id,
        custom_model_id=custom_model_id,
        values=body.values,
        validate=body.should_validate,
    )
    return CustomModelOut.model_validate(view)


@router.delete(
    "/workspaces/{ws}/custom-models/{custom_model_id}",
    status_code=NO_CONTENT,
    tags=["custom models"],
    summary="Delete a custom model (owner, admin)",
)
async def delete_custom_model(custom_model_id: str, member: Manager, state: State) -> Response:
    await state.services.models.delete_custom(workspace_id=member.workspace_id, custom_model_id=custom_model_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/workspaces/{ws}/custom-models/{custom_model_id}/validate",
    tags=["custom models"],
    summary="Check a custom model's credentials again (owner, admin)",
)
async def validate_custom_model(custom_model_id: str, member: Manager, state: State) -> CustomModelOut:
    view = await state.services.models.validate_custom(
        workspace_id=member.workspace_id, custom_model_id=custom_model_id
    )
    return CustomModelOut.model_validate(view)


# --- default models -------------------------------------------------------------------------------------------


@router.get("/workspaces/{ws}/default-models", tags=["default models"], summary="The default model of each type")
async def list_default_models(member: Reader, state: State) -> list[DefaultModelOut]:
    views = await state.services.defaults.all(workspace_id=member.workspace_id)
    return [DefaultModelOut.model_validate(view) for view in views]


@router.put(
    "/workspaces/{ws}/default-models/{model_type}",
    tags=["default models"],
    summary="Choose the default model of a type; refused, saying why, if it cannot be called now (owner, admin)",
)
async def set_default_model(
    model_type: ModelType, body: DefaultModelBody, member: Manager, state: State
) -> DefaultModelOut:
    view = await state.services.defaults.set(
        workspace_id=member.workspace_id, model_type=model_type, provider=body.provider, model=body.model
    )
    return DefaultModelOut.model_validate(view)


@router.delete(
    "/workspaces/{ws}/default-models/{model_type}",
    status_code=NO_CONTENT,
    tags=["default models"],
    summary="Clear the chosen default: the first usable model is used (owner, admin)",
)
async def clear_default_model(model_type: ModelType, member: Manager, state: State) -> Response:
    await state.services.defaults.clear(workspace_id=member.workspace_id, model_type=model_type)
    return Response(status_code=NO_CONTENT)
