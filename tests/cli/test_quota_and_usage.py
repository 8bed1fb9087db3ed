from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from modelyard.services.usage import UsageEvent
from modelyard.types import Usage
from tests.support.cli import Cli, started_services


def test_quota_show_lists_the_hosted_trial_quota(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hosted.yaml"
    config.write_text(
        "providers:\n"
        "  deepseek:\n"
        "    credentials: {api_key: sk-hosted-0000, endpoint_url: 'http://127.0.0.1:9/v1'}\n"
        "    quota: {type: trial, unit: times, limit: 200}\n"
    )
    monkeypatch.setenv("MODELYARD_HOSTED_CONFIG", str(config))
    workspace = cli.json("workspace", "create", "Trial")["id"]

    statuses = cli.json("quota", "show", "--workspace", workspace)
    text = cli("quota", "show", "--workspace", workspace).stdout

    assert statuses == [
        {
            "provider": "deepseek",
            "quota_type": "trial",
            "unit": "times",
            "limit": 200,
            "used": 0,
            "remaining": 200,
            "is_exhausted": False,
        }
    ]
    assert "deepseek" in text and "sk-hosted-0000" not in text


def test_quota_show_without_hosted_providers_is_empty(cli: Cli, workspace: str) -> None:
    assert cli.json("quota", "show", "--workspace", workspace) == []
    assert "No hosted providers" in cli("quota", "show", "--workspace", workspace).stdout


def record_calls(workspace: str, *calls: tuple[str, int, Decimal]) -> None:
    async def record() -> None:
        async with started_services() as services:  # closing writes what was recorded
            for number, (model, prompt_tokens, price) in enumerate(calls):
                usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=1, total_price=price)
                services.usage.record(
                    UsageEvent(
                        request_id=f"req_{number}", workspace_id=workspace, api_key_id=None, provider="deepseek",
                        model=model, model_type="llm", provider_type="custom", credential_ref=None, usage=usage,
                        status="success", error_class=None, created_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
                    )
                )  # fmt: skip

    asyncio.run(record())


def test_usage_sums_calls_per_group_with_exact_prices(cli: Cli, workspace: str) -> None:
    record_calls(workspace, ("a", 10, Decimal("0.0000012")), ("a", 5, Decimal("0.0000003")), ("b", 1, Decimal(0)))

    by_model = cli.json("usage", "--workspace", workspace, "--group-by", "provider,model")
    by_day = cli.json("usage", "--workspace", workspace, "--since", "2026-11-02", "--until", "2026-11-02")
    before = cli.json("usage", "--workspace", workspace, "--until", "2026-11-01")

    assert [(u["model"], u["calls"], u["prompt_tokens"], u["total_price"]) for u in by_model] == [
        ("a", 2, 15, "0.0000015"),
        ("b", 1, 1, "0"),
    ]
    assert by_model[0]["day"] is None
    assert {u["day"] for u in by_day} == {"2026-11-02"}
    assert before == []


def test_usage_with_an_unknown_group_key_is_a_usage_error(cli: Cli, workspace: str) -> None:
    result = cli("usage", "--workspace", workspace, "--group-by", "provider,colour")

    assert result.exit_code == 2
    assert "--group-by" in result.stderr
