from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.types.usage import Usage


@dataclass(frozen=True, slots=True)
class ModerationRequest:
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModerationVerdict:
    flagged: bool
    categories: Mapping[str, bool]
    scores: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ModerationResult:
    model: str
    verdicts: tuple[ModerationVerdict, ...]  # one per input
    usage: Usage

    @property
    def flagged(self) -> bool:
        return any(verdict.flagged for verdict in self.verdicts)
