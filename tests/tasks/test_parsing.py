"""Reading answers the way models really give them: the title and question parsers on messy text, no socket."""

from __future__ import annotations

import pytest

from modelyard.tasks.parsing import json_value, visible_text
from modelyard.tasks.suggestions import QUESTION_MAX_CHARS, parse_questions
from modelyard.tasks.title import TITLE_MAX_CHARS, parse_title


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('{"title": "Sorting a list in Python"}', "Sorting a list in Python"),
        ('```json\n{"title": "Sorting a list in Python."}\n```', "Sorting a list in Python"),
        (
            'Sure! Here is the JSON you asked for: {"title": "Sorting lists"} Let me know if you need more.',
            "Sorting lists",
        ),
        ('Title: "Sorting lists in Python."', "Sorting lists in Python"),
        ("**“Sorting lists in Python”**", "Sorting lists in Python"),
        ("Here is a title for the conversation:\n\n## Sorting Lists in Python!", "Sorting Lists in Python"),
        ("<think>The user asks about sort(); a title...</think>\n\nPython List Sorting", "Python List Sorting"),
        ("the user wants a title, keep it short</think>Python List Sorting", "Python List Sorting"),
        ('{"Title": "Python 列表排序。"}', "Python 列表排序"),
        ("标题：「Python 列表排序」", "Python 列表排序"),
        ("《快速排序的原理》", "快速排序的原理"),
        ("{'title': 'Sorting lists',}", "Sorting lists"),
        ('{"title": "Sorting lists" "extra"', "Sorting lists"),
        ('The "sorted" function vs list.sort', 'The "sorted" function vs list.sort'),
    ],
)
def test_parse_title_reads_messy_answers(answer: str, title: str) -> None:
    assert parse_title(answer) == title


@pytest.mark.parametrize(
    "answer",
    ["", "   ", '{"title": "..."}', '{"title": "Sorting a li', "<think>still thinking about the title", "```json\n```"],
)
def test_parse_title_finds_nothing_in_an_answer_without_a_title(answer: str) -> None:
    assert parse_title(answer) is None


def test_a_long_title_is_cut_at_a_word_within_the_bound() -> None:
    words = "An unusually long and winding title about sorting lists of dictionaries by several keys in Python"

    title = parse_title(f'{{"title": "{words}"}}')

    assert title is not None and len(title) <= TITLE_MAX_CHARS
    assert words.startswith(title) and words[len(title)] == " "


def test_a_long_title_without_spaces_is_cut_at_the_bound() -> None:
    title = parse_title("这是一个非常非常长的标题" * 10)

    assert title is not None and len(title) == TITLE_MAX_CHARS


ENGLISH = ["How does sorted() differ from list.sort()?", "Can I sort by two keys?", "Is Python's sort stable?"]
CHINESE = ["sorted() 和 list.sort() 有什么区别？", "如何按两个键排序？", "Python 的排序是稳定的吗？"]


def quoted(questions: list[str]) -> str:
    return ", ".join(f'"{q}"' for q in questions)


def numbered(questions: list[str], marker: str = ". ") -> str:
    return "\n".join(f"{n}{marker}{q}" for n, q in enumerate(questions, 1))


@pytest.mark.parametrize(
    ("answer", "questions"),
    [
        (f'{{"questions": [{quoted(ENGLISH)}]}}', ENGLISH),
        (f"```json\n[{quoted(CHINESE)}]\n```", CHINESE),
        (f'Here you go:\n```\n{{"questions": [{quoted(ENGLISH)},]}}\n```\nHope it helps!', ENGLISH),
        (f"Here are three follow-up questions:\n\n{numbered(ENGLISH)}", ENGLISH),
        (f"以下是推荐的问题：\n{numbered(CHINESE, '、')}", CHINESE),
        (f'- **{ENGLISH[0]}**\n- "{ENGLISH[1]}",\n- {ENGLISH[2]}', ENGLISH),
        ("\n".join(CHINESE), CHINESE),
        (str(ENGLISH), ENGLISH),  # a Python list, single quotes and all
        ('{"questions": [' + ", ".join(f'{{"question": "{q}"}}' for q in ENGLISH) + "]}", ENGLISH),
        (f"<think>They may want stability next.</think>\n[{quoted(ENGLISH)}]", ENGLISH),
        (f"See [1].\n{numbered(ENGLISH, ') ')}", ENGLISH),
    ],
)
def test_parse_questions_reads_messy_answers(answer: str, questions: list[str]) -> None:
    assert parse_questions(answer) == questions


def test_parse_questions_keeps_every_usable_question_and_drops_repeats_and_placeholders() -> None:
    answer = f'{{"questions": [{quoted([*ENGLISH[:2], "...", ENGLISH[2], ENGLISH[0].upper(), "Why?"])}]}}'

    assert parse_questions(answer) == [*ENGLISH, "Why?"]


def test_parse_questions_leaves_out_a_question_longer_than_the_bound() -> None:
    long_question = "Could you " + "please " * 30 + "explain?"
    assert len(long_question) > QUESTION_MAX_CHARS

    assert parse_questions(str([long_question, *ENGLISH[:2]])) == ENGLISH[:2]


def test_parse_questions_reads_the_complete_strings_of_a_cut_off_answer() -> None:
    assert parse_questions(f'{{"questions": [{quoted(ENGLISH[:2])}, "Is Python\'s so') == ENGLISH[:2]


def test_visible_text_leaves_out_reasoning() -> None:
    assert visible_text("<think>a</think>b<thinking>c</thinking>d") == "bd"
    assert visible_text("answer<think>unfinished") == "answer"


def test_json_value_finds_the_first_object_in_prose_and_none_in_plain_text() -> None:
    assert json_value('I think [1] is wrong; {"a": 1}') == [1]
    assert json_value("no json here") is None


def test_a_title_key_is_read_alone_when_there_is_one() -> None:
    assert parse_title('{"title": "", "note": "I could not decide"}') is None
    assert parse_title('{"name": "Sorting lists"}') == "Sorting lists"
