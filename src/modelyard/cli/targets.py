"""How commands name a model: `PROVIDER/MODEL` (as the gateway does) or `PROVIDER MODEL`, and its type when unique.

Provider ids never hold a slash and model ids may (`openrouter/meta-llama/llama-3.3`), so the first slash of a
single argument splits it; with two arguments the second is the model, slashes and all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.errors import NotFoundError

if TYPE_CHECKING:
    from modelyard.services.context import Services

TARGET_METAVAR = "PROVIDER/MODEL"


def split_target(target: str, model_name: str | None) -> tuple[str, str]:
    """(provider, model) from `PROVIDER/MODEL`, or from `PROVIDER` followed by `MODEL`."""
    if model_name is not None:
        if "/" in target:
            raise click.BadParameter(
                f"{target!r} already names a model; give PROVIDER/MODEL or PROVIDER MODEL", param_hint="MODEL"
            )
        provider, model = target, model_name
    else:
        provider, _, model = target.partition("/")
    if not provider.strip() or not model.strip():
        raise click.BadParameter(
            "expected PROVIDER/MODEL or PROVIDER MODEL, such as deepseek/deepseek-chat", param_hint=TARGET_METAVAR
        )
    return provider.strip(), model.strip()


def takes_model_argument(target: str) -> bool:
    """Whether the argument after `target` is the model (`PROVIDER MODEL`) rather than something else."""
    return "/" not in target


async def model_type_of(
    services: Services, *, workspace_id: str, provider: str, model: str, model_type: str | None
) -> str:
    """`model_type` when given; else the type of the one model so named, or a usage error listing the types."""
    if model_type is not None:
        return model_type
    views = await services.models.list(workspace_id=workspace_id, provider=provider)
    types = sorted({view.model_type for view in views if view.model == model})
    if len(types) == 1:
        return types[0]
    if not types:
        if provider not in services.catalog:
            raise NotFoundError(f"unknown provider {provider!r}")
        raise NotFoundError(f"[{provider}] has no model {model!r} in this workspace")
    raise click.BadParameter(
        f"{provider}/{model} is a model of several types ({', '.join(types)}); say which with --type",
        param_hint="--type",
    )
