"""`modelyard task title | questions`: the system model's tasks for a conversation read from a file or stdin.

The conversation is JSON: OpenAI-shaped chat messages, as an array or as `{"messages": [...]}`. The calls are the
workspace's own (hosted quota, budgets and usage apply), by its default LLM unless `--model` names another.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

import click
import orjson

from modelyard.cli.output import emit, json_option
from modelyard.cli.running import run, workspace_option
from modelyard.errors import InvalidRequestError

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.invoke import Invocation
    from modelyard.types import Usage

_conversation_argument = click.argument("conversation", metavar="[FILE]", type=click.File("rb"), default="-")
_model_option = click.option(
    "--model",
    default="default",
    show_default=True,
    help="provider/model, a model name, or default (the workspace's default LLM).",
)


@click.group()
def task() -> None:
    """The system model's tasks: a conversation's title and follow-up questions."""


@task.command("title")
@workspace_option
@_model_option
@_conversation_argument
@json_option
def task_title(workspace_id: str, model: str, conversation: IO[bytes], as_json: bool) -> None:
    """Name a conversation: a few words in its language, on one line.

    \b
        modelyard task title --workspace ws_... < conversation.json
    """
    messages = _messages(conversation)

    async def title(services: Services) -> Invocation[Any]:
        from modelyard.services.conversation_tasks import generate_title

        return await generate_title(services.invoker, workspace_id=workspace_id, messages=messages, model=model)

    invocation = run(title, workspace_id=workspace_id)
    result = invocation.result
    emit(_document(invocation, result.usage, title=result.title), as_json, text=result.title)


@task.command("questions")
@workspace_option
@_model_option
@_conversation_argument
@json_option
def task_questions(workspace_id: str, model: str, conversation: IO[bytes], as_json: bool) -> None:
    """Suggest three follow-up questions for a conversation, one per line, in its language.

    \b
        modelyard task questions --workspace ws_... --json < conversation.json
    """
    messages = _messages(conversation)

    async def questions(services: Services) -> Invocation[Any]:
        from modelyard.services.conversation_tasks import suggest_questions

        return await suggest_questions(services.invoker, workspace_id=workspace_id, messages=messages, model=model)

    invocation = run(questions, workspace_id=workspace_id)
    result = invocation.result
    document = _document(invocation, result.usage, questions=list(result.questions))
    emit(document, as_json, text="\n".join(result.questions))


def _messages(conversation: IO[bytes]) -> Any:
    try:
        data = orjson.loads(conversation.read())
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"the conversation is not valid JSON: {exc}", field="messages") from None
    return data.get("messages") if isinstance(data, dict) else data


def _document(invocation: Invocation[Any], usage: Usage, **result: Any) -> dict[str, Any]:
    return {
        **result,
        "model": f"{invocation.provider}/{invocation.model}",
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "total_price": usage.total_price,
            "currency": usage.currency,
        },
    }
