"""From what a caller names (`provider/model`, a bare model name, an alias, or `default`) to what can be called.

Pure functions over a WorkspaceSnapshot: no I/O, so the hot path pays a few dictionary lookups.

Provider type, per provider (written in the README too):
* the workspace's own credentials (`custom`) and the operator's hosted offer (`system`) may both be usable;
* an explicit preference (`preferred_type`) wins when its side is usable, else the other side is used;
* with no preference, `custom` wins when configured: a workspace that adds its own key uses it;
* a `system` call whose hosted quota is exhausted falls back to `custom` when that is configured (the invoker).

A workspace's model alias (services/aliases.py) comes first: its name never holds a slash, is never `default`, and
is refused at creation when a model of the workspace already answers to it as a bare name; a model added later under
an alias's name is still reached as `provider/model`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelyard.catalog.spec import ModelSpec
from modelyard.errors import CredentialsNotConfiguredError, ModelDisabledError, ModelNotFoundError
from modelyard.services.hosted import HostedProvider
from modelyard.services.snapshot import AliasState, ModelKey, PoolMember, ProviderState, WorkspaceSnapshot
from modelyard.types import ModelType
from modelyard.types.value import Value

ProviderType = str  # system | custom
# The pool entry that stands for the model's own credentials, whichever are active (Dify's name; services/pools.py)
INHERIT_NAME = "__inherit__"


class Route(Value, frozen=True):
    """One way to call the model: a provider type and the credential sets to try, in pool order."""

    provider_type: ProviderType
    members: tuple[PoolMember, ...]
    pool_key: str | None = None  # set when load balancing spreads calls over several members


class Resolved(Value, frozen=True):
    provider: str
    model: ModelSpec
    model_type: ModelType
    routes: tuple[Route, ...]  # preferred first; a system route may be followed by a custom fall-back
    hosted: HostedProvider | None

    @property
    def key(self) -> ModelKey:
        return (self.provider, self.model.id, self.model_type)


class ResolvedTarget(Value, frozen=True):
    """One usable target of an alias: the model it resolved to, its weight and its context window (None: unknown)."""

    name: str  # provider/model
    resolved: Resolved
    weight: int
    context_size: int | None


class ResolvedAlias(Value, frozen=True):
    """An alias with the targets the workspace can call now, in fallback order; unusable ones are left out."""

    name: str
    model_type: ModelType
    targets: tuple[ResolvedTarget, ...]
    max_attempts: int
    max_time_s: float


class Availability(Value, frozen=True):
    is_available: bool
    reason: str | None = None
    reason_code: str | None = None  # the error contract's code for the reason, for a console to word it
    reason_params: Mapping[str, str] = {}  # the values the reason names (ModelyardError.params)


# Why a model cannot be called, as the codes the error contract gives these errors (error_contract.py).
_REASON_CODES: dict[type[Exception], str] = {
    CredentialsNotConfiguredError: "credentials_not_configured",
    ModelDisabledError: "model_disabled",
    ModelNotFoundError: "model_not_found",
}


def resolve(snapshot: WorkspaceSnapshot, name: str, model_type: ModelType) -> Resolved:
    """Resolve a model the caller named; every refusal says why and what to do.

    Memoised on the snapshot: a name resolves once per configuration version (refusals are not kept).
    """
    memo_key = ("resolve", name, model_type)
    resolved: Resolved | None = snapshot.memo.get(memo_key)
    if resolved is None:
        resolved = snapshot.memo[memo_key] = _resolve(snapshot, name, model_type)
    return resolved


def resolve_alias(snapshot: WorkspaceSnapshot, name: str, model_type: ModelType) -> ResolvedAlias | None:
    """The alias so named for calls of this type, None when there is none; memoised as `resolve` is.

    Raises ModelNotFoundError when none of its targets can be called now, naming each one's reason.
    """
    alias = snapshot.aliases.get(name)
    if alias is None or alias.model_type != model_type:
        return None
    memo_key = ("alias", name, model_type)
    resolved: ResolvedAlias | None = snapshot.memo.get(memo_key)
    if resolved is None:
        resolved = snapshot.memo[memo_key] = _resolve_alias(snapshot, alias, model_type)
    return resolved


def _resolve_alias(snapshot: WorkspaceSnapshot, alias: AliasState, model_type: ModelType) -> ResolvedAlias:
    targets = []
    reasons = []
    for target in alias.targets:
        try:
            resolved = resolve_exact(snapshot, target.provider, target.model, model_type)
        except (ModelNotFoundError, ModelDisabledError, CredentialsNotConfiguredError) as exc:
            reasons.append(f"{target.name}: {exc}")
            continue
        context = resolved.model.properties.context_size
        targets.append(ResolvedTarget(target.name, resolved, target.weight, context))
    if not targets:
        why = "; ".join(reasons)
        raise ModelNotFoundError(f"none of the models of alias {alias.name!r} can be called now: {why}").with_params(
            case="alias_unusable", model=alias.name, reasons=why
        )
    return ResolvedAlias(alias.name, model_type, tuple(targets), alias.max_attempts, float(alias.max_time_s))


def _resolve(snapshot: WorkspaceSnapshot, name: str, model_type: ModelType) -> Resolved:
    alias = resolve_alias(snapshot, name, model_type) if snapshot.aliases else None
    if alias is not None:  # a single model stands for it here (its first usable target); the invoker falls back
        return alias.targets[0].resolved
    if name == "default":
        provider, model = default_model(snapshot, model_type)
        return resolve_exact(snapshot, provider, model, model_type)
    provider, _, rest = name.partition("/")
    if rest and provider in snapshot.providers and _known(snapshot, provider, rest, model_type):
        return resolve_exact(snapshot, provider, rest, model_type)
    matches = [key for key in usable_models(snapshot, model_type) if key[1] == name]
    if len(matches) == 1:
        return resolve_exact(snapshot, matches[0][0], name, model_type)
    if len(matches) > 1:
        options = ", ".join(f"{p}/{m}" for p, m, _ in matches)
        raise ModelNotFoundError(f"{name!r} is ambiguous in this workspace: name one of {options}").with_params(
            case="ambiguous", model=name, options=options
        )
    if rest and provider in snapshot.providers:
        raise _no_such_model(provider, rest, model_type)
    raise ModelNotFoundError(f"no usable {model_type} model named {name!r} in this workspace").with_params(
        case="no_usable_named", model=name, model_type=model_type
    )


def resolve_exact(snapshot: WorkspaceSnapshot, provider: str, model_id: str, model_type: ModelType) -> Resolved:
    state = snapshot.providers.get(provider)
    if state is None:
        raise ModelNotFoundError(f"unknown provider {provider!r}").with_params(
            case="unknown_provider", provider=provider
        )
    key = (provider, model_id, model_type)
    if key in snapshot.disabled:
        raise ModelDisabledError(
            f"[{provider}] {model_id} is disabled in this workspace; enable it to use it"
        ).with_params(provider=provider, model=model_id)
    custom = snapshot.custom_models.get(key)
    spec = custom.spec if custom is not None else state.spec.model(model_id, model_type)
    if spec is None:
        raise _no_such_model(provider, model_id, model_type)
    routes = _routes(snapshot, state, key, spec)
    if not routes:
        or_custom = custom is None and "customizable-model" in state.spec.configuration_methods
        raise CredentialsNotConfiguredError(
            f"[{provider}] no credentials are configured for {model_id}: add an API key for {provider}"
            + (" or a custom model" if or_custom else "")
        ).with_params(case="or_custom_model" if or_custom else "api_key", provider=provider, model=model_id)
    return Resolved(provider, spec, model_type, routes, state.hosted)


def _no_such_model(provider: str, model_id: str, model_type: ModelType) -> ModelNotFoundError:
    return ModelNotFoundError(f"[{provider}] has no {model_type} model {model_id!r} in this workspace").with_params(
        case="no_such_model", provider=provider, model=model_id, model_type=model_type
    )


def type_order(preferred_type: str | None, *, has_custom: bool, has_system: bool) -> tuple[ProviderType, ...]:
    """The provider types to use, first choice first (the rules in this module's docstring)."""
    if preferred_type == "system" or (preferred_type is None and not has_custom):
        order = ("system", "custom")
    else:
        order = ("custom", "system")
    usable = {"custom": has_custom, "system": has_system}
    return tuple(kind for kind in order if usable[kind])


def _routes(snapshot: WorkspaceSnapshot, state: ProviderState, key: ModelKey, spec: ModelSpec) -> tuple[Route, ...]:
    by_type = {"custom": _custom_route(snapshot, state, key), "system": _system_route(state, spec)}
    order = type_order(
        state.preferred_type, has_custom=by_type["custom"] is not None, has_system=by_type["system"] is not None
    )
    return tuple(by_type[kind] for kind in order)  # type: ignore[misc]


def _custom_route(snapshot: WorkspaceSnapshot, state: ProviderState, key: ModelKey) -> Route | None:
    custom = snapshot.custom_models.get(key)
    pool = snapshot.pools.get(key)
    if pool:
        own = custom.credentials if custom is not None else state.credentials
        members = tuple(_with_own_credentials(pool, own))
        if members:
            return Route("custom", members, pool_key=f"{snapshot.workspace_id}/{'/'.join(key)}")
    if custom is not None:
        return Route("custom", (PoolMember(custom.id, key[1], 1, custom.credentials),))
    if state.credentials is not None and state.credential_id is not None:
        return Route("custom", (PoolMember(state.credential_id, state.spec.id, 1, state.credentials),))
    return None


def _with_own_credentials(pool: tuple[PoolMember, ...], own: Mapping[str, str] | None) -> Iterator[PoolMember]:
    """The pool's members, the entry for the model's own credentials (services/pools.py) given the ones active now,
    or left out when there are none (the credential was deleted)."""
    for member in pool:
        if member.name != INHERIT_NAME:
            yield member
        elif own is not None:
            yield PoolMember(member.id, member.name, member.weight, own)


def _system_route(state: ProviderState, spec: ModelSpec) -> Route | None:
    hosted = state.hosted
    if hosted is None or not hosted.allows(spec.id) or state.spec.model(spec.id, spec.type) is None:
        return None
    return Route("system", (PoolMember("system", "hosted", 1, hosted.credentials),))


def _known(snapshot: WorkspaceSnapshot, provider: str, model_id: str, model_type: ModelType) -> bool:
    state = snapshot.providers[provider]
    return (provider, model_id, model_type) in snapshot.custom_models or state.spec.model(
        model_id, model_type
    ) is not None


def availability(snapshot: WorkspaceSnapshot, provider: str, model_id: str, model_type: ModelType) -> Availability:
    try:
        resolve_exact(snapshot, provider, model_id, model_type)
    except (ModelNotFoundError, ModelDisabledError, CredentialsNotConfiguredError) as exc:
        return Availability(False, str(exc), _REASON_CODES[type(exc)], exc.params)
    return Availability(True)


def usable_models(snapshot: WorkspaceSnapshot, model_type: ModelType) -> list[ModelKey]:
    """Every model of the type the workspace can call, in catalog order (custom models after each catalog list).

    A deprecated model is listed too: it still answers until its shutdown date, so it is usable (one rule for
    /v1/models, name resolution and the default-model picker); `default_model` only ranks it last.
    """
    usable: list[ModelKey] = []
    for provider, state in snapshot.providers.items():
        has_system = state.hosted is not None
        for model in state.spec.models:
            if model.type != model_type:
                continue
            key: ModelKey = (provider, model.id, model_type)
            if key in snapshot.disabled:
                continue
            if (
                state.has_custom
                or key in snapshot.pools
                or (has_system and state.hosted and state.hosted.allows(model.id))
            ):
                usable.append(key)
        for custom_key in snapshot.custom_models:
            if custom_key[0] == provider and custom_key[2] == model_type and custom_key not in snapshot.disabled:
                usable.append(custom_key)
    return usable


def default_model(snapshot: WorkspaceSnapshot, model_type: ModelType) -> tuple[str, str]:
    """The chosen default, or the first usable model of the type (`automatic`)."""
    chosen = snapshot.defaults.get(model_type)
    if chosen is not None:
        return chosen
    usable = usable_models(snapshot, model_type)
    if not usable:
        raise ModelNotFoundError(f"this workspace has no usable {model_type} model to use as its default").with_params(
            case="no_usable_model", model_type=model_type
        )
    current = next((key for key in usable if not is_deprecated(snapshot, key)), usable[0])
    return current[0], current[1]


def is_deprecated(snapshot: WorkspaceSnapshot, key: ModelKey) -> bool:
    """A catalog model whose vendor announced its end (custom models never are)."""
    if key in snapshot.custom_models:
        return False
    spec = snapshot.providers[key[0]].spec.model(key[1], key[2])  # type: ignore[arg-type]
    return spec is not None and spec.deprecated
