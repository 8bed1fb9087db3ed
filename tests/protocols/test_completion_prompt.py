"""The completion-mode template: a conversation as one prompt text, on values alone."""

from __future__ import annotations

import pytest

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.completion_prompt import TURN_STOP, completion_prompt
from modelyard.types import ChatRequest, DocumentPart, ImagePart, Message, TextPart, Tool, ToolCall


def prompt(*messages: Message, **params):
    return completion_prompt(ChatRequest(messages=messages, **params), model="base-7b")


def test_one_user_message_is_sent_as_its_text_alone() -> None:
    assert prompt(Message.user("Once upon a time")) == prompt(Message.user([TextPart("Once upon a time")]))
    said = prompt(Message.user("Once upon a time"), stop=("END",))
    assert (said.text, said.stop) == ("Once upon a time", ("END",))


def test_system_messages_come_first_as_paragraphs_of_their_own() -> None:
    said = prompt(Message.system("Write tersely."), Message.user("A haiku about rain:"))
    assert (said.text, said.stop) == ("Write tersely.\n\nA haiku about rain:", ())


def test_a_conversation_becomes_turns_ending_with_the_assistants_cue_and_a_stop_at_the_next_user_turn() -> None:
    said = prompt(
        Message.system("Be brief."),
        Message.user("Hi"),
        Message.assistant("Hello."),
        Message.user("Name a colour."),
        stop=("END",),
    )
    assert said.text == "Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Name a colour.\n\nAssistant:"
    assert said.stop == ("END", TURN_STOP)


def test_a_conversation_ending_with_the_assistant_is_continued_from_its_words() -> None:
    said = prompt(Message.user("Count to three."), Message.assistant("One, two,"), stop=(TURN_STOP,))
    assert said.text == "User: Count to three.\n\nAssistant: One, two,"
    assert said.stop == (TURN_STOP,)  # not repeated


def test_tools_are_refused_by_name() -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        prompt(Message.user("Weather?"), tools=(Tool("get_weather"),))
    assert caught.value.field == "tools"
    assert "completion mode" in str(caught.value)


@pytest.mark.parametrize(
    "message",
    [
        Message.assistant("", (ToolCall("c1", "get_weather", "{}"),)),
        Message.tool("c1", "sunny"),
        Message.user([TextPart("What is this?"), ImagePart("https://example.test/cat.png")]),
        Message.user([DocumentPart("JVBERi0=")]),
    ],
)
def test_tool_turns_and_non_text_parts_are_refused_naming_the_messages(message: Message) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        prompt(Message.user("Hi"), message)
    assert caught.value.field == "messages"
