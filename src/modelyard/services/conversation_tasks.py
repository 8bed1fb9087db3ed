"""The system model's tasks for a workspace: a conversation's title and suggested follow-up questions.

Each chat call a task makes is an ordinary call through the invoker (admission under the key's and workspace's
policies, hosted quota, budgets, usage records), to the model the caller named or the workspace's default LLM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from modelyard import tasks
from modelyard.services.invoke import Invocation
from modelyard.tasks.conversation import ConversationInput, conversation_messages
from modelyard.types import ChatRequest, ChatResult

if TYPE_CHECKING:
    from modelyard.catalog.spec import ModelSpec
    from modelyard.services.invoke import Invoker

T = TypeVar("T")
Task = Callable[..., Awaitable[T]]


async def generate_title(
    invoker: Invoker,
    *,
    workspace_id: str,
    messages: ConversationInput,
    model: str = "default",
    api_key_id: str | None = None,
    request_id: str | None = None,
) -> Invocation[tasks.ConversationTitle]:
    """A title for the conversation, by `model` (default: the workspace's default LLM)."""
    context = {"api_key_id": api_key_id, "request_id": request_id}
    return await _run(tasks.generate_title, invoker, workspace_id, messages, model, context)


async def suggest_questions(
    invoker: Invoker,
    *,
    workspace_id: str,
    messages: ConversationInput,
    model: str = "default",
    api_key_id: str | None = None,
    request_id: str | None = None,
) -> Invocation[tasks.SuggestedQuestions]:
    """Follow-up questions for the conversation, by `model` (default: the workspace's default LLM)."""
    context = {"api_key_id": api_key_id, "request_id": request_id}
    return await _run(tasks.suggest_questions, invoker, workspace_id, messages, model, context)


async def _run(
    task: Task[T],
    invoker: Invoker,
    workspace_id: str,
    messages: ConversationInput,
    model: str,
    context: dict[str, str | None],
) -> Invocation[T]:
    conversation = conversation_messages(messages)  # a bad body is refused before any model is looked for
    resolved = await invoker.resolve(workspace_id=workspace_id, model=model, model_type="llm")
    exact = f"{resolved.provider}/{resolved.model.id}"  # every call of the task goes to the model the prompt suits
    calls: list[Invocation[Any]] = []

    async def chat(request: ChatRequest) -> ChatResult:
        invocation = await invoker.chat(
            workspace_id=workspace_id,
            model=exact,
            request=request,
            api_key_id=context["api_key_id"],
            request_id=context["request_id"],
        )
        calls.append(invocation)
        assert isinstance(invocation.result, ChatResult)  # asked for without streaming
        return invocation.result

    spec: ModelSpec = resolved.model
    result = await task(chat, provider=resolved.provider, model=spec, messages=conversation)
    last = calls[-1]
    return Invocation(result, last.provider, last.model, last.provider_type, last.request_id)
