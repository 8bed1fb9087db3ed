"""Rewrite migration 0001 from the table metadata. Only while no release has shipped: after one, add migrations."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from modelyard.store.database import MIGRATIONS

target = MIGRATIONS / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as scratch:
    engine = create_engine(f"sqlite:///{Path(scratch) / 'empty.db'}")
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
subprocess.run([".venv/bin/ruff", "format", "--quiet", str(target)], check=True)
subprocess.run([".venv/bin/ruff", "check", "--fix", "--quiet", str(target)], check=False)
print(f"wrote {target}")
