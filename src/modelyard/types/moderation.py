from __future__ import annotations

from collections.abc import Mapping

from modelyard.types.usage import Usage
from modelyard.types.value import Value


class ModerationRequest(Value, frozen=True):
    inputs: tuple[str, ...]


class ModerationVerdict(Value, frozen=True):
    flagged: bool
    categories: Mapping[str, bool]
    scores: Mapping[str, float]


class ModerationResult(Value, frozen=True):
    model: str
    verdicts: tuple[ModerationVerdict, ...]  # one per input
    usage: Usage

    @property
    def flagged(self) -> bool:
        return any(verdict.flagged for verdict in self.verdicts)
