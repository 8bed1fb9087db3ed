"""The OpenAI-compatible gateway (`/v1`), a plain ASGI app: routing is one dictionary lookup."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modelyard import telemetry
from modelyard.errors import CredentialError, ModelyardError
from modelyard.gateway import audio, cache, chat, endpoints, idempotency, messages, responses, tasks
from modelyard.gateway.errors import error_body, plain_error
from modelyard.gateway.exchange import ClientDisconnectedError, Exchange, InFlight, Receive, Scope, Send
from modelyard.gateway.metrics import UNMATCHED_ROUTE, Metrics
from modelyard.services.governance import GovernedCall
from modelyard.services.governance import call as governance_call
from modelyard.services.invoke import new_request_id

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

log = logging.getLogger(__name__)
Handler = Callable[["Services", Exchange, "ApiKeyIdentity", Metrics], Awaitable[None]]

ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/chat/completions"): chat.chat_completions,
    ("POST", "/v1/messages"): messages.messages,
    ("POST", "/v1/responses"): responses.create,
    ("GET", "/v1/responses/{response_id}"): responses.retrieve,
    ("DELETE", "/v1/responses/{response_id}"): responses.delete,
    ("POST", "/v1/embeddings"): endpoints.embeddings,
    ("POST", "/v1/rerank"): endpoints.rerank,
    ("POST", "/v1/moderations"): endpoints.moderations,
    ("POST", "/v1/audio/transcriptions"): audio.transcriptions,
    ("POST", "/v1/audio/speech"): audio.speech,
    ("GET", "/v1/models"): endpoints.list_models,
    ("POST", "/v1/tasks/conversation-title"): tasks.conversation_title,
    ("POST", "/v1/tasks/suggested-questions"): tasks.suggested_questions,
}
_PATHS = {path for _, path in ROUTES}
# Routes with a trailing `{parameter}`, by (method, the path before it): looked up only when no exact route matches.
_PARAMETERISED = {(method, path.rpartition("/")[0]): path for method, path in ROUTES if path.endswith("}")}


class Gateway:
    def __init__(self, services: Services, metrics: Metrics) -> None:
        self.services = services
        self.metrics = metrics
        telemetry.configure()  # traces, when the OTEL_* variables ask for them (once per process)
        self.in_flight = InFlight()  # drained at shutdown (server.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracing = telemetry.tracing  # None unless traces are on: then the call is answered again inside its span
        if tracing is not None and telemetry.TRACED not in scope:
            await tracing.gateway_call(self, scope, receive, send, route=_route_label(scope))
            return
        exchange = Exchange(scope, receive, send, exchange_id(scope))
        path = scope["path"].rstrip("/")
        handler = ROUTES.get((scope["method"], path))
        if handler is None and path.count("/") > 2:  # a parameterised route; metrics name it, never the raw path
            path = _route(scope["method"], path)
            handler = ROUTES.get((scope["method"], path))
        self.in_flight.add(exchange)
        entered = None
        try:
            if handler is None:
                status = await _no_route(exchange, path)
                self.metrics.observe(_counted_route(scope), status, time.perf_counter() - exchange.started)
                return
            authenticating = self.services.api_keys.authenticate(_api_key(exchange))
            identity = await (authenticating if tracing is None else tracing.authenticate(authenticating))
            # The key's policy goes with the call to the invoker's admission, whose x-ratelimit-* and budget headers
            # go on whatever the route answers (a result, a stream, an error).
            governed = GovernedCall(identity.workspace_id, identity)
            entered = governance_call.enter(governed)
            exchange.send = governed.stamp(exchange.send)
            # Identical calls answered from the response cache, where the workspace or the request turned it on.
            handler = await cache.handler_for(self.services.response_cache, exchange, identity, path, handler)
            key = idempotency.key_of(exchange) if scope["method"] == "POST" else None
            if key is not None:  # the first answer for the key is kept and replayed to its repeats

                async def run(metrics: Metrics) -> None:
                    async with exchange.watching():
                        await handler(self.services, exchange, identity, metrics)

                await idempotency.answer_once(
                    self.services.idempotency, exchange, identity, key, run, self.metrics, path, self._answer_error
                )
                return
            async with exchange.watching():  # a caller who leaves, or a server stop, cancels the call at once
                await handler(self.services, exchange, identity, self.metrics)
        except ClientDisconnectedError:
            if not exchange.response_started:  # the caller left before any answer: 499, as nginx counts it
                self.metrics.observe(_counted_route(scope), 499, time.perf_counter() - exchange.started)
            return
        except ModelyardError as exc:
            self.metrics.error(path, exc)
            await self._answer_error(exchange, exc)
        except Exception as exc:  # a bug: log it, never show a traceback to the caller
            log.exception("gateway error on %s", path)
            self.metrics.error(path, exc)
            await self._answer_error(exchange, exc)
        finally:
            if entered is not None:
                governance_call.leave(entered)
            self.in_flight.discard(exchange)
            exchange.close()

    async def _answer_error(self, exchange: Exchange, error: BaseException) -> None:
        if exchange.response_started or exchange.disconnected:
            return  # a stream already began (its own error event said what happened), or no one is listening
        status, body, headers = error_body(error)
        await exchange.respond(status, body, headers=headers)
        self.metrics.observe(_counted_route(exchange.scope), status, time.perf_counter() - exchange.started)


def _counted_route(scope: Scope) -> str:
    """The route a request counts under in metrics: the one it matched, never the raw path its caller chose."""
    path = scope["path"].rstrip("/")
    if path not in _PATHS and path.count("/") > 2:
        path = _route(scope["method"], path)
    return path if path in _PATHS else UNMATCHED_ROUTE


def _route(method: str, path: str) -> str:
    """The parameterised route a path fills (`/v1/responses/{response_id}`), for this method or another one (a 405);
    else the path itself."""
    prefix = path.rpartition("/")[0]
    found = _PARAMETERISED.get((method, prefix))
    return found or next((route for (_, before), route in _PARAMETERISED.items() if before == prefix), path)


def _route_label(scope: Scope) -> str:
    """The route a call's span is named by: a parameterised one by its template, never an id from the path."""
    path = scope["path"].rstrip("/")
    route = path if path in _PATHS else _route(scope["method"], path)
    return route if route in _PATHS else "unmatched"


def _api_key(exchange: Exchange) -> str:
    authorization = exchange.header(b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = exchange.header(b"x-api-key") or exchange.header(b"api-key")  # Anthropic and Azure SDKs
    if key:
        return key.strip()
    raise CredentialError("missing API key: send it as 'Authorization: Bearer <key>'")


async def _no_route(exchange: Exchange, path: str) -> int:
    if path in _PATHS:
        body = plain_error(405, f"{exchange.scope['method']} is not allowed on {path}", type="invalid_request_error")
        await exchange.respond(405, body)
        return 405
    await exchange.respond(404, plain_error(404, f"no route {path}", type="invalid_request_error", code="not_found"))
    return 404


def exchange_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 64:
            return str(value.decode("latin-1"))
    return new_request_id()
