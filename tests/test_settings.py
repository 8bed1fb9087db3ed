"""Settings read from the environment: the retention days, and a clear error naming the variable otherwise."""

from __future__ import annotations

import pytest

from modelyard.settings import Settings, SettingsError


def test_retention_defaults_keep_records_90_days_ledgers_400_and_daily_sums_forever() -> None:
    settings = Settings.from_env({})

    assert (settings.usage_retention_days, settings.ledger_retention_days, settings.aggregate_retention_days) == (
        90,
        400,
        0,
    )


def test_retention_days_are_read_and_0_keeps_forever() -> None:
    settings = Settings.from_env(
        {
            "MODELYARD_USAGE_RETENTION_DAYS": "30",
            "MODELYARD_LEDGER_RETENTION_DAYS": "0",
            "MODELYARD_AGGREGATE_RETENTION_DAYS": "1_000",
        }
    )

    assert (settings.usage_retention_days, settings.ledger_retention_days, settings.aggregate_retention_days) == (
        30,
        0,
        1000,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MODELYARD_USAGE_RETENTION_DAYS": "-1"}, "MODELYARD_USAGE_RETENTION_DAYS"),
        ({"MODELYARD_LEDGER_RETENTION_DAYS": "a year"}, "MODELYARD_LEDGER_RETENTION_DAYS"),
        ({"MODELYARD_LEDGER_RETENTION_DAYS": "36501"}, "MODELYARD_LEDGER_RETENTION_DAYS"),
        ({"MODELYARD_AGGREGATE_RETENTION_DAYS": "30"}, "MODELYARD_AGGREGATE_RETENTION_DAYS"),  # under the records' 90
        (
            {"MODELYARD_USAGE_RETENTION_DAYS": "0", "MODELYARD_AGGREGATE_RETENTION_DAYS": "400"},
            "MODELYARD_AGGREGATE_RETENTION_DAYS",  # records kept forever: their sums must be too
        ),
    ],
)
def test_a_bad_retention_setting_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
