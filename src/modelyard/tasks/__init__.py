"""The system model's tasks: a conversation's title and suggested follow-up questions.

A task is a prompt (prompts.py), one ordinary chat call made by whoever runs it (run.py), and robust reading of
the answer (parsing.py). It sits above the types and below the runtime and services, which both run it.
"""

from modelyard.tasks.run import Chat, generate_title, suggest_questions
from modelyard.tasks.suggestions import QUESTION_COUNT, QUESTION_MAX_CHARS, SuggestedQuestions
from modelyard.tasks.title import TITLE_MAX_CHARS, ConversationTitle

__all__ = [
    "QUESTION_COUNT",
    "QUESTION_MAX_CHARS",
    "TITLE_MAX_CHARS",
    "Chat",
    "ConversationTitle",
    "SuggestedQuestions",
    "generate_title",
    "suggest_questions",
]
