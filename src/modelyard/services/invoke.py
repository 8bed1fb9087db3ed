"""Calling a model for a workspace: resolve, reserve hosted quota, pick a credential, invoke, account.

The hot path reads the cached snapshot, never the database; the one exception is the hosted-quota reservation,
which must be atomic. Usage is recorded into a buffer written in batches. Fail-over to another credential of
the pool, from an exhausted hosted quota to the workspace's own key, or from one target of a model alias to the
next (services/fallback.py), happens only before the first byte reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from modelyard import telemetry
from modelyard.catalog.spec import ModelSpec
from modelyard.errors import (
    HostedQuotaExceededError,
    ModelyardError,
    NotFoundError,
    UpstreamAuthError,
    UpstreamError,
)
from modelyard.protocols.base import Target
from modelyard.runtime.stream import ChatStream
from modelyard.services.balancer import PoolEntry
from modelyard.services.fallback import Fallback
from modelyard.services.governance import Admission, GovernedCall
from modelyard.services.governance import call as governance_call
from modelyard.services.quota.estimate import CallEstimate, within
from modelyard.services.resolve import Resolved, ResolvedAlias, Route, resolve, resolve_alias
from modelyard.services.snapshot import PoolMember, WorkspaceSnapshot
from modelyard.services.usage import UsageEvent, UsageStatus
from modelyard.store.tables import utcnow
from modelyard.types import (
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ModelType,
    ModerationRequest,
    ModerationResult,
    RerankRequest,
    RerankResult,
    SpeechRequest,
    SpeechStream,
    TranscriptionRequest,
    TranscriptionResult,
    Usage,
)
from modelyard.types.value import Value

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.quota import Reservation

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class NoCredentialAvailableError(UpstreamError):
    """Every credential of a load-balanced model is cooling down or was refused."""

    is_retryable = True


class Invocation(Value, Generic[T], frozen=True):
    """A result and how it was obtained: the gateway reports provider, model and type in its headers."""

    result: T
    provider: str
    model: str
    provider_type: str
    request_id: str
    alias: str | None = None  # the alias the caller named; provider and model are then its target that answered
    attempts: int = 1  # an alias's calls: the upstream attempts made, retries and fallbacks included
    fallbacks: tuple[str, ...] = ()  # an alias's targets that failed or were skipped, as `provider/model:why`


class CallContext(Value, frozen=True):
    workspace_id: str
    api_key_id: str | None
    request_id: str
    idempotency_key: str | None


class Invoker:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._background: set[asyncio.Task[None]] = set()

    async def chat(
        self,
        *,
        workspace_id: str,
        model: str,
        request: ChatRequest,
        stream: bool = False,
        strict_params: bool | None = None,
        **context: str | None,
    ) -> Invocation[ChatResult | ChatStream]:
        """`strict_params`: refuse the call (400) where the model's parameter rules would drop or change a value
        (None: the runtime's default)."""
        runtime = self._services.runtime
        return await self._invoke(
            _context(workspace_id, context),
            model,
            "llm",
            request,
            lambda target, request: runtime.invoke_chat(target, request, stream=stream, strict_params=strict_params),
        )

    async def embed(
        self, *, workspace_id: str, model: str, request: EmbeddingRequest, **context: str | None
    ) -> Invocation[EmbeddingResult]:
        runtime = self._services.runtime
        return await self._invoke(
            _context(workspace_id, context), model, "text-embedding", request, runtime.invoke_embeddings
        )

    async def rerank(
        self, *, workspace_id: str, model: str, request: RerankRequest, **context: str | None
    ) -> Invocation[RerankResult]:
        runtime = self._services.runtime
        return await self._invoke(_context(workspace_id, context), model, "rerank", request, runtime.invoke_rerank)

    async def transcribe(
        self, *, workspace_id: str, model: str, request: TranscriptionRequest, **context: str | None
    ) -> Invocation[TranscriptionResult]:
        runtime = self._services.runtime
        return await self._invoke(
            _context(workspace_id, context), model, "speech2text", request, runtime.invoke_transcription
        )

    async def speak(
        self, *, workspace_id: str, model: str, request: SpeechRequest, **context: str | None
    ) -> Invocation[SpeechStream]:
        runtime = self._services.runtime
        return await self._invoke(_context(workspace_id, context), model, "tts", request, runtime.invoke_speech)

    async def moderate(
        self, *, workspace_id: str, model: str, request: ModerationRequest, **context: str | None
    ) -> Invocation[ModerationResult]:
        runtime = self._services.runtime
        return await self._invoke(
            _context(workspace_id, context), model, "moderation", request, runtime.invoke_moderation
        )

    @cached_property
    def _fallback(self) -> Fallback:
        return Fallback(self._services.cooldowns)

    async def resolve(self, *, workspace_id: str, model: str, model_type: ModelType) -> Resolved:
        return resolve(await self._services.snapshots.get(workspace_id), model, model_type)

    # --- the one path every call takes --------------------------------------------------------------------------

    async def _invoke(
        self,
        context: CallContext,
        model: str,
        model_type: ModelType,
        request: R,
        call: Callable[[Target, R], Awaitable[T]],
    ) -> Invocation[T]:
        snapshot = await self._services.snapshots.get(context.workspace_id)
        alias = resolve_alias(snapshot, model, model_type) if snapshot.aliases else None
        if alias is not None:
            return await self._invoke_alias(context, snapshot, alias, request, call)
        tracing = telemetry.tracing  # None unless traces are on (modelyard/telemetry); then each step is a span
        if tracing is None:
            resolved = resolve(snapshot, model, model_type)
        else:
            resolved = tracing.resolve(resolve, snapshot, model, model_type)
        admitting = self._admit(context, resolved, model, request)  # the key's and workspace's policies
        admission = await (admitting if tracing is None else tracing.phase("admission", admitting))
        try:
            return await self._call_model(context, snapshot, resolved, call, request, admission)
        except BaseException:
            if admission is not None:  # nothing reached the caller: the call's slots, tokens and budget come back
                admission.finish(None)
            raise

    async def _invoke_alias(
        self,
        context: CallContext,
        snapshot: WorkspaceSnapshot,
        alias: ResolvedAlias,
        request: R,
        call: Callable[[Target, R], Awaitable[T]],
    ) -> Invocation[T]:
        """A call of an alias, admitted once for all its targets: requests, tokens and concurrency count the call
        once, and the budget holds the dearest target's worst case; each attempt reserves its own hosted quota and
        gives it back when it fails, so only the target that answers is charged."""
        governed = await self._governed(context)
        alias = _allowed_targets(alias, governed)
        first, *others = (target.resolved for target in alias.targets)
        fallbacks = tuple(resolved.model for resolved in others)
        admitting = self._admit(context, first, alias.name, request, fallbacks=fallbacks, governed=governed)
        tracing = telemetry.tracing
        admission = await (admitting if tracing is None else tracing.phase("admission", admitting))
        try:
            answer = await self._fallback.run(
                context.workspace_id,
                alias,
                lambda target: self._call_model(context, snapshot, target.resolved, call, request, admission),
            )
        except BaseException:
            if admission is not None:
                admission.finish(None)
            raise
        trail = answer.trail
        return msgspec.structs.replace(
            answer.result, alias=alias.name, attempts=trail.attempts, fallbacks=tuple(trail.fallbacks)
        )

    async def _call_model(
        self,
        context: CallContext,
        snapshot: WorkspaceSnapshot,
        resolved: Resolved,
        call: Callable[[Target, R], Awaitable[T]],
        request: R,
        admission: Admission | None,
    ) -> Invocation[T]:
        """The model's routes in order (hosted quota, then the workspace's own key); the admission is the caller's
        to finish when this raises, and is settled by the accounting when it answers."""
        tracing = telemetry.tracing
        last_error: ModelyardError | None = None
        for route in resolved.routes:
            reservation = None
            sent = request
            if route.provider_type == "system":
                estimate = CallEstimate(resolved.model, request)  # counted only if the quota's unit needs it
                try:
                    reserving = self._reserve(context, resolved, estimate)
                    reservation = await (reserving if tracing is None else tracing.phase("quota", reserving))
                except HostedQuotaExceededError as exc:
                    last_error = exc  # the workspace's own key, if it has one, is the next route
                    continue
                if reservation.is_capped:  # less remained than the worst case: the call must fit what did
                    sent = within(request, estimate, reservation.amount)
            try:
                result, member = await self._call_route(context, snapshot.memo, resolved, route, call, sent)
            except BaseException:
                if reservation is not None:
                    self._spawn(self._services.quota.release(reservation))
                raise
            self._account(context, resolved, route, member, result, reservation, admission)
            return Invocation(result, resolved.provider, resolved.model.id, route.provider_type, context.request_id)
        assert last_error is not None
        raise last_error

    async def _governed(self, context: CallContext) -> GovernedCall:
        """The caller's key and workspace, as the gateway's auth step left them, or looked up for a library call."""
        governed = governance_call.current()
        if governed is None or governed.workspace_id != context.workspace_id:  # not through the gateway's auth step
            key = None
            if context.api_key_id is not None:
                with contextlib.suppress(NotFoundError):  # a key id only named for the usage records: no policy
                    key = await self._services.api_keys.identity(
                        workspace_id=context.workspace_id, key_id=context.api_key_id
                    )
            governed = GovernedCall(context.workspace_id, key)
        return governed

    async def _admit(
        self,
        context: CallContext,
        resolved: Resolved,
        requested: str,
        request: object,
        *,
        fallbacks: tuple[ModelSpec, ...] = (),
        governed: GovernedCall | None = None,
    ) -> Admission | None:
        """Admission under the caller's policies, taken whole even if the caller leaves meanwhile (then given back)."""
        if governed is None:
            governed = await self._governed(context)
        governor = self._services.governor
        ticket = await governor.plan(
            governed,
            provider=resolved.provider,
            model=resolved.model,
            requested=requested,
            request=request,
            fallbacks=fallbacks,
        )
        if ticket is None:  # nothing limits the call: no task, no round trip
            return None
        if ticket.is_at_once:  # counted in this process: nothing to wait for, nothing a cancellation could strand
            return governor.take_at_once(governed, ticket)
        admitting = asyncio.ensure_future(governor.take(governed, ticket))
        try:
            return await asyncio.shield(admitting)
        except asyncio.CancelledError:
            admitting.add_done_callback(self._finish_unused)
            raise

    def _finish_unused(self, admitting: asyncio.Future[Admission]) -> None:
        if not admitting.cancelled() and admitting.exception() is None:
            admitting.result().finish(None)

    async def _reserve(self, context: CallContext, resolved: Resolved, estimate: CallEstimate) -> Reservation:
        """The reservation, written whole even if the caller leaves meanwhile (then it is given back at once): a
        cancellation inside the write could commit a reservation no one would ever close."""
        reserving = asyncio.ensure_future(
            self._services.quota.reserve(
                workspace_id=context.workspace_id,
                provider=resolved.provider,
                model=resolved.model.id,
                estimate=estimate,
                leased=True,  # from this process's lease: no round trip while the lease has room
                idempotency_key=context.idempotency_key,
            )
        )
        try:
            return await asyncio.shield(reserving)
        except asyncio.CancelledError:
            reserving.add_done_callback(self._release_unused)
            raise

    def _release_unused(self, reserving: asyncio.Future[Reservation]) -> None:
        if not reserving.cancelled() and reserving.exception() is None:
            self._spawn(self._services.quota.release(reserving.result()))

    async def _call_route(
        self,
        context: CallContext,
        memo: dict[Any, Any],
        resolved: Resolved,
        route: Route,
        call: Callable[[Target, R], Awaitable[T]],
        request: R,
    ) -> tuple[T, PoolMember]:
        members = route.members
        if route.pool_key is not None:
            by_id = {member.id: member for member in members}
            chosen = self._services.balancer.choose(route.pool_key, [PoolEntry(m.id, m.weight) for m in members])
            members = tuple(by_id[entry.id] for entry in chosen)
            if not members:
                raise NoCredentialAvailableError(
                    "every credential of this model is cooling down or was refused; try again shortly",
                    provider=resolved.provider,
                )
        last: UpstreamError | None = None
        for member in members:
            target_key = ("target", resolved.key, member.id)
            target = memo.get(target_key)
            if target is None:
                binding = self._services.runtime.binding(resolved.provider)
                target = memo[target_key] = binding.target(resolved.model, member.credentials)
            try:
                answer = call(target, request)
                tracing = telemetry.tracing
                if tracing is not None:
                    answer = tracing.upstream(answer, resolved, route.provider_type, target, request)
                return await answer, member
            except asyncio.CancelledError:  # the caller left, or the server is stopping: the upstream call is closed
                self._record(context, resolved, route, member, None, CANCELLED)
                raise
            except UpstreamError as exc:
                last = exc
                if route.pool_key is not None:
                    await self._services.balancer.report_failure(route.pool_key, member.id, exc)
                self._record(context, resolved, route, member, None, exc)
                if not (exc.is_retryable or isinstance(exc, UpstreamAuthError)) or route.pool_key is None:
                    raise
        assert last is not None
        raise last

    # --- accounting, off the hot path ---------------------------------------------------------------------------

    def _account(
        self,
        context: CallContext,
        resolved: Resolved,
        route: Route,
        member: PoolMember,
        result: object,
        reservation: Reservation | None,
        admission: Admission | None = None,
    ) -> None:
        if route.pool_key is not None:
            self._spawn(self._services.balancer.report_success(route.pool_key, member.id))
        if isinstance(result, ChatStream):

            def finished(stream: ChatStream, error: BaseException | None) -> None:
                if stream.usage is not None:
                    self._record(context, resolved, route, member, stream.usage, None)
                    self._settle(reservation, stream.usage, admission)
                    return
                # Failed or abandoned midway: what arrived was spent upstream and is billed; nothing arrived, nothing.
                self._record(context, resolved, route, member, stream.partial_usage, error or CANCELLED)
                if stream.partial_usage is not None:
                    self._settle(reservation, stream.partial_usage, admission)
                    return
                if reservation is not None:
                    self._spawn(self._services.quota.release(reservation))
                if admission is not None:
                    admission.finish(None)

            result.add_done_callback(finished)
            return
        usage = getattr(result, "usage", None)
        if isinstance(result, SpeechStream):
            usage = Usage()  # priced per character by the catalog when billed; audio length is unknown here
        self._record(context, resolved, route, member, usage, None)
        self._settle(reservation, usage, admission)

    def _settle(self, reservation: Reservation | None, usage: Usage | None, admission: Admission | None) -> None:
        if reservation is not None:
            actual = usage.total_tokens if usage is not None else None
            self._spawn(self._services.quota.settle(reservation, actual=actual))
        if admission is not None:  # the call answered: it is settled at what it reported (nothing, if nothing)
            admission.finish(usage or Usage())

    def _record(
        self,
        context: CallContext,
        resolved: Resolved,
        route: Route,
        member: PoolMember,
        usage: Usage | None,
        error: BaseException | None,
    ) -> None:
        self._services.usage.record(
            UsageEvent(
                request_id=context.request_id,
                workspace_id=context.workspace_id,
                api_key_id=context.api_key_id,
                provider=resolved.provider,
                model=resolved.model.id,
                model_type=resolved.model_type,
                provider_type=route.provider_type,
                credential_ref=member.id,
                usage=usage,
                status=_status(error),
                error_class=type(error).__name__ if error is not None and _status(error) == "error" else None,
                created_at=utcnow(),
            )
        )

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished_task)

    def _finished_task(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("accounting task failed: %s", type(task.exception()).__name__)

    async def drain(self) -> None:
        """Wait for accounting still in flight (quota settlement, balancer reports); called at shutdown."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


CANCELLED = asyncio.CancelledError()  # recorded for a call its caller left (or the server stopped) before the end


def _status(error: BaseException | None) -> UsageStatus:
    if error is None:
        return "success"
    return "cancelled" if isinstance(error, asyncio.CancelledError | GeneratorExit) else "error"


_PROCESS_PREFIX = secrets.token_hex(6)  # ids are unique across replicas and restarts without a syscall each
_request_numbers = itertools.count()


def new_request_id() -> str:
    return f"req_{_PROCESS_PREFIX}{next(_request_numbers):012x}"


def _allowed_targets(alias: ResolvedAlias, governed: GovernedCall) -> ResolvedAlias:
    """The alias's targets the caller's key may call: all of them when it allows the alias by name (or every model);
    else those it allows as models. None allowed: the alias itself, which admission then refuses, naming the policy."""
    policy = governed.key.policy if governed.key is not None else None
    if policy is None or policy.allowed_models is None:
        return alias
    allowed = tuple(target for target in alias.targets if policy.allows(alias.name, target.name))
    if not allowed or len(allowed) == len(alias.targets):
        return alias
    return msgspec.structs.replace(alias, targets=allowed)


def _context(workspace_id: str, context: dict[str, str | None]) -> CallContext:
    return CallContext(
        workspace_id=workspace_id,
        api_key_id=context.get("api_key_id"),
        request_id=context.get("request_id") or new_request_id(),
        idempotency_key=context.get("idempotency_key"),
    )
