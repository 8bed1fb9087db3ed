"""The head revision read without Alembic, and `migrate` handing a database to Alembic only when it is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from modelyard.store import database
from modelyard.store.database import create_engine, migrate
from modelyard.store.revisions import VERSIONS, head_revisions


def alembic_heads() -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(database.MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def test_the_heads_read_from_the_files_are_alembics() -> None:
    assert head_revisions() == alembic_heads()


def test_a_migration_file_in_another_shape_leaves_the_decision_to_alembic(tmp_path: Path) -> None:
    for path in VERSIONS.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "9999_odd.py").write_text("revision = make_revision()\ndown_revision = None\n")

    assert head_revisions(tmp_path) is None


async def test_only_a_database_behind_the_head_is_given_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    upgrades: list[str] = []
    real_upgrade = command.upgrade

    def upgrade(config: Config, revision: str) -> None:
        upgrades.append(revision)
        real_upgrade(config, revision)

    monkeypatch.setattr(command, "upgrade", upgrade)
    try:
        await migrate(engine, "0001")
        await migrate(engine)  # behind: Alembic brings it to the head
        await migrate(engine)  # at the head: nothing to do, and Alembic is not asked
    finally:
        await engine.dispose()

    assert upgrades == ["0001", "head"]
