"""`eventually()`, the one wait the suite uses for background effects."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import eventually


async def test_eventually_returns_once_a_background_effect_shows() -> None:
    done: list[int] = []
    asyncio.get_running_loop().call_later(0.05, done.append, 1)

    await eventually(lambda: done, "the callback to run")

    assert done == [1]


async def test_eventually_awaits_an_async_condition() -> None:
    checks = 0

    async def third_time() -> bool:
        nonlocal checks
        checks += 1
        return checks == 3

    await eventually(third_time, "the third check")

    assert checks == 3


async def test_eventually_fails_naming_what_it_waited_for() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"waited 0\.05 s for the moon to turn blue"):
        await eventually(lambda: False, "the moon to turn blue", within_s=0.05)
