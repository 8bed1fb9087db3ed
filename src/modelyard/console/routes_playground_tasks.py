"""POST /console/api/workspaces/{ws}/playground/title and /playground/suggested-questions: the system model's tasks
for the playground's conversation (a title once it has an answer, follow-up questions after each answer).

They run as the gateway's do (services/conversation_tasks.py): ordinary chat calls of the workspace, by its default
LLM unless the body names a model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from modelyard.console.auth import Reader, State
from modelyard.console.schemas import Body, PlaygroundMessage
from modelyard.console.state import ConsoleState
from modelyard.console.views import View
from modelyard.services import conversation_tasks
from modelyard.services.invoke import Invocation
from modelyard.types import Usage

router = APIRouter(tags=["playground"])


class PlaygroundTaskBody(Body):
    model: Annotated[str, Field(min_length=1, max_length=320)] = "default"  # provider/model, a name, or "default"
    messages: Annotated[list[PlaygroundMessage], Field(min_length=1, max_length=200)]


class TaskUsageOut(View):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    total_price: Decimal
    currency: str


class PlaygroundTitleOut(View):
    title: str
    provider: str
    model: str
    usage: TaskUsageOut


class PlaygroundQuestionsOut(View):
    questions: list[str]
    provider: str
    model: str
    usage: TaskUsageOut


@router.post(
    "/workspaces/{ws}/playground/title",
    summary="A short title for a playground conversation, by the default LLM or the model named (any member)",
)
async def playground_title(body: PlaygroundTaskBody, member: Reader, state: State) -> PlaygroundTitleOut:
    invocation = await conversation_tasks.generate_title(
        state.services.invoker, workspace_id=member.workspace_id, messages=_messages(body), model=body.model
    )
    title = invocation.result
    _count(state, invocation, title.usage)
    return PlaygroundTitleOut(title=title.title, **_source(invocation, title.usage))


@router.post(
    "/workspaces/{ws}/playground/suggested-questions",
    summary="Follow-up questions for a playground conversation, by the default LLM or the model named (any member)",
)
async def playground_suggested_questions(
    body: PlaygroundTaskBody, member: Reader, state: State
) -> PlaygroundQuestionsOut:
    invocation = await conversation_tasks.suggest_questions(
        state.services.invoker, workspace_id=member.workspace_id, messages=_messages(body), model=body.model
    )
    suggested = invocation.result
    _count(state, invocation, suggested.usage)
    return PlaygroundQuestionsOut(questions=list(suggested.questions), **_source(invocation, suggested.usage))


def _messages(body: PlaygroundTaskBody) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": m.content} for m in body.messages]


def _source(invocation: Invocation[Any], usage: Usage) -> dict[str, Any]:
    return {
        "provider": invocation.provider,
        "model": invocation.model,
        "usage": TaskUsageOut(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            total_price=usage.total_price,
            currency=usage.currency,
        ),
    }


def _count(state: ConsoleState, invocation: Invocation[Any], usage: Usage) -> None:
    state.metrics.usage(invocation.provider, invocation.model, usage, invocation.provider_type)
