"""Model aliases: a workspace's name (`smart`, `embed-default` ...) for an ordered list of weighted models.

A call that names an alias spreads over its targets by weight and falls back along the list before the first byte
(services/fallback.py). Aliases are configuration: every write bumps the workspace's version, and calls read them
from its snapshot, never from the database.

Names: letters, digits and `. _ - :`, never `default`, and never the bare name of a model (a catalog model of any
provider, or one of the workspace's custom models), so that a name means one thing when the alias is made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import ConflictError, InvalidRequestError, NotFoundError
from modelyard.services.cooldowns import Cooldowns
from modelyard.services.credentials import _flush_unique
from modelyard.services.defaults import check_model_type
from modelyard.services.resolve import availability
from modelyard.services.snapshot import AliasState, AliasTarget, SnapshotService, alias_state
from modelyard.services.workspaces import bump_version
from modelyard.store.tables import ModelAlias
from modelyard.types import ModelType

if TYPE_CHECKING:
    from modelyard.catalog.loader import Catalog

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MAX_TARGETS = 16
MAX_WEIGHT = 1000
MAX_ATTEMPTS = 20
MAX_TIME_S = 600
DEFAULT_ATTEMPTS = 3
DEFAULT_TIME_S = 30


@dataclass(frozen=True, slots=True)
class AliasTargetView:
    provider: str
    model: str
    weight: int
    is_available: bool  # the workspace can call it now
    reason: str | None  # why it cannot
    cooldown_remaining_s: float  # 0 unless it rests after failures
    cooldown_reason: str | None


@dataclass(frozen=True, slots=True)
class AliasView:
    id: str
    name: str
    model_type: str
    targets: list[AliasTargetView]
    max_attempts: int
    max_time_s: int
    created_at: datetime
    updated_at: datetime


def parse_targets(value: object) -> list[AliasTarget]:
    """Targets from a face: a list of `{"provider", "model", "weight"}` objects or of `provider/model` strings."""
    if not isinstance(value, list | tuple) or not value:
        raise InvalidRequestError("targets is a non-empty list of models, first choice first", field="targets")
    if len(value) > MAX_TARGETS:
        raise InvalidRequestError(f"an alias names at most {MAX_TARGETS} models", field="targets")
    targets = []
    for number, item in enumerate(value):
        where = f"targets[{number}]"
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, Mapping) or set(item) - {"provider", "model", "weight"}:
            raise InvalidRequestError(f"{where} is 'provider/model' or {{provider, model, weight}}", field=where)
        provider, model = item.get("provider"), item.get("model")
        if provider is None and isinstance(model, str):
            provider, _, model = model.partition("/")
        weight = item.get("weight", 1)
        if not isinstance(provider, str) or not provider or not isinstance(model, str) or not model:
            raise InvalidRequestError(f"{where} names no model: give 'provider/model'", field=where)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise InvalidRequestError(f"{where}.weight is a whole number from 0 to {MAX_WEIGHT}", field=where)
        targets.append(AliasTarget(provider, model, weight))
    return targets


class AliasService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        snapshots: SnapshotService,
        catalog: Catalog,
        cooldowns: Cooldowns,
    ) -> None:
        self._db = db
        self._snapshots = snapshots
        self._catalog = catalog
        self._cooldowns = cooldowns

    async def list(self, *, workspace_id: str) -> list[AliasView]:
        async with self._db() as session:
            rows = (
                await session.scalars(
                    select(ModelAlias).where(ModelAlias.workspace_id == workspace_id).order_by(ModelAlias.name)
                )
            ).all()
        return [await self._view(workspace_id, row) for row in rows]

    async def get(self, *, workspace_id: str, name: str) -> AliasView:
        async with self._db() as session:
            row = await _row(session, workspace_id, name)
        return await self._view(workspace_id, row)

    async def create(
        self,
        *,
        workspace_id: str,
        name: str,
        targets: Sequence[AliasTarget],
        model_type: str = "llm",
        max_attempts: int = DEFAULT_ATTEMPTS,
        max_time_s: int = DEFAULT_TIME_S,
    ) -> AliasView:
        """Make an alias; a name taken by another alias is a conflict, one that is a model's name is refused."""
        kind = check_model_type(model_type)
        await self._check(workspace_id, _valid_name(name), kind, targets, max_attempts, max_time_s)
        async with self._db.begin() as session:
            if await _find(session, workspace_id, name) is not None:
                raise ConflictError(f"this workspace already has an alias named {name!r}")
            row = ModelAlias(
                workspace_id=workspace_id,
                name=name,
                model_type=kind,
                targets=_stored(targets),
                max_attempts=max_attempts,
                max_time_s=max_time_s,
            )
            session.add(row)
            await _flush_unique(session, f"this workspace already has an alias named {name!r}")  # a create raced
            await bump_version(session, workspace_id=workspace_id)
        await self._snapshots.changed(workspace_id)
        return await self._view(workspace_id, row)

    async def update(
        self,
        *,
        workspace_id: str,
        name: str,
        targets: Sequence[AliasTarget] | None = None,
        max_attempts: int | None = None,
        max_time_s: int | None = None,
    ) -> AliasView:
        """Change an alias's targets or budgets; what is not given stays."""
        async with self._db() as session:
            current = alias_state(await _row(session, workspace_id, name))
        targets = current.targets if targets is None else targets
        attempts = current.max_attempts if max_attempts is None else max_attempts
        time_s = current.max_time_s if max_time_s is None else max_time_s
        await self._check(workspace_id, name, current.model_type, targets, attempts, time_s, renamed=False)
        async with self._db.begin() as session:
            row = await _row(session, workspace_id, name)
            row.targets, row.max_attempts, row.max_time_s = _stored(targets), attempts, time_s
            await bump_version(session, workspace_id=workspace_id)
        await self._snapshots.changed(workspace_id)
        return await self._view(workspace_id, row)

    async def delete(self, *, workspace_id: str, name: str) -> None:
        async with self._db.begin() as session:
            result = await session.execute(
                delete(ModelAlias).where(ModelAlias.workspace_id == workspace_id, ModelAlias.name == name)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"this workspace has no alias named {name!r}")
            await bump_version(session, workspace_id=workspace_id)
        await self._snapshots.changed(workspace_id)

    async def _check(
        self,
        workspace_id: str,
        name: str,
        model_type: str,
        targets: Sequence[AliasTarget],
        max_attempts: int,
        max_time_s: int,
        *,
        renamed: bool = True,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= MAX_ATTEMPTS:
            raise InvalidRequestError(f"max_attempts is from 1 to {MAX_ATTEMPTS}", field="max_attempts")
        if isinstance(max_time_s, bool) or not isinstance(max_time_s, int) or not 1 <= max_time_s <= MAX_TIME_S:
            raise InvalidRequestError(f"max_time_s is from 1 to {MAX_TIME_S} seconds", field="max_time_s")
        if not targets:
            raise InvalidRequestError("an alias names at least one model", field="targets")
        snapshot = await self._snapshots.get(workspace_id)
        if renamed:
            self._refuse_model_name(name, snapshot.custom_models)
        seen = set()
        for number, target in enumerate(targets):
            where = f"targets[{number}]"
            if target.name in seen:
                raise InvalidRequestError(f"{target.name} is named twice", field=where)
            seen.add(target.name)
            if target.provider not in self._catalog:
                raise InvalidRequestError(f"{where}: unknown provider {target.provider!r}", field=where)
            key = (target.provider, target.model, model_type)
            if (
                key not in snapshot.custom_models
                and self._catalog.get(target.provider).model(
                    target.model,
                    model_type,  # type: ignore[arg-type]  # checked by check_model_type
                )
                is None
            ):
                raise InvalidRequestError(
                    f"{where}: {target.provider} has no {model_type} model {target.model!r} in this workspace",
                    field=where,
                )
        if not any(target.weight > 0 for target in targets):
            raise InvalidRequestError("at least one model needs a weight above 0", field="targets")

    def _refuse_model_name(self, name: str, custom_models: Mapping[tuple[str, str, str], object]) -> None:
        owners = [spec.id for spec in self._catalog if any(model.id == name for model in spec.models)]
        owners += [provider for provider, model, _ in custom_models if model == name]
        if owners:
            raise InvalidRequestError(
                f"{name!r} is the name of a model ({owners[0]}/{name}); an alias must not shadow one",
                field="name",
            )

    async def _view(self, workspace_id: str, row: ModelAlias) -> AliasView:
        alias = alias_state(row)
        snapshot = await self._snapshots.get(workspace_id)
        rests = await self._cooldowns.read(workspace_id, [target.name for target in alias.targets])
        targets = []
        for target, rest in zip(alias.targets, rests, strict=True):
            state = availability(snapshot, target.provider, target.model, _model_type(alias))
            targets.append(
                AliasTargetView(
                    target.provider,
                    target.model,
                    target.weight,
                    state.is_available,
                    state.reason,
                    round(rest.remaining_s, 3),
                    rest.reason or None,
                )
            )
        return AliasView(
            row.id,
            row.name,
            row.model_type,
            targets,
            row.max_attempts,
            row.max_time_s,
            row.created_at,
            row.updated_at or row.created_at,
        )


def _model_type(alias: AliasState) -> ModelType:
    return check_model_type(alias.model_type)


def _valid_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidRequestError(
            "an alias name is 1 to 64 letters, digits and . _ - :, starting with a letter or digit (no slash)",
            field="name",
        )
    if name == "default":
        raise InvalidRequestError("'default' names each type's default model; pick another name", field="name")
    return name


def _stored(targets: Sequence[AliasTarget]) -> str:
    return json.dumps([{"provider": t.provider, "model": t.model, "weight": t.weight} for t in targets])


async def _find(session: AsyncSession, workspace_id: str, name: str) -> ModelAlias | None:
    return await session.scalar(
        select(ModelAlias).where(ModelAlias.workspace_id == workspace_id, ModelAlias.name == name)
    )


async def _row(session: AsyncSession, workspace_id: str, name: str) -> ModelAlias:
    row = await _find(session, workspace_id, name)
    if row is None:
        raise NotFoundError(f"this workspace has no alias named {name!r}")
    return row
