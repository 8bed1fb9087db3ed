"""Composing a protocol whose wire depends on the target: an API mode or an endpoint the credentials chose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from modelyard.protocols.base import Target

P = ParamSpec("P")
R = TypeVar("R")


def _unchanged(target: Target) -> Target:
    return target


@dataclass(frozen=True, slots=True)
class Switch:
    """Picks one of two implementations of an endpoint per target, so a two-wire family composes its protocol with
    one line per endpoint: `build_chat = staticmethod(COMPATIBLE.choose(openai_requests.build_chat, build_chat))`.

    `when` runs for the targets `test` accepts, on the target as `adapt` makes it (the other wire's base URL,
    model name or quirks); `otherwise` runs on the target as it is.
    """

    test: Callable[[Target], bool]
    adapt: Callable[[Target], Target] = _unchanged

    def choose(
        self, when: Callable[Concatenate[Target, P], R], otherwise: Callable[Concatenate[Target, P], R]
    ) -> Callable[Concatenate[Target, P], R]:
        def chosen(target: Target, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if self.test(target):
                return when(self.adapt(target), *args, **kwargs)
            return otherwise(target, *args, **kwargs)

        return chosen
