"""The schema's head revision and the database's, compared without Alembic.

Importing Alembic and building its script directory costs ~100 ms, paid by every process that starts (each CLI
command) to learn that there is nothing to do. The revision ids are plain assignments at the top of each file in
`migrations/versions`, so reading them takes a regular expression; Alembic runs only when the database is not at
the head, or when the files say something this reading does not understand (then it decides, as before).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSIONS = Path(__file__).parent / "migrations" / "versions"

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]+)?=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"""^["']([\w.-]+)["']$""")
_TUPLE = re.compile(r"""["']([\w.-]+)["']""")


@functools.cache
def head_revisions(versions: Path = VERSIONS) -> frozenset[str] | None:
    """The revisions no other revises, or None when a file is not in the shape Alembic's template writes."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions.glob("*.py"):
        found = {match[1]: match[2] for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8"))}
        revision = _QUOTED.match(found.get("revision", ""))
        down = found.get("down_revision")
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down != "None":
            parents = _TUPLE.findall(down)
            if not parents:
                return None
            revised.update(parents)
    if not revisions or not revised <= revisions:
        return None
    return frozenset(revisions - revised)


def database_revisions(connection: Connection) -> frozenset[str]:
    """What the database's alembic_version holds: nothing for a database never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def is_at_head(connection: Connection) -> bool:
    """True when the database's alembic_version holds exactly the head revisions; False when in any doubt."""
    heads = head_revisions()
    return heads is not None and database_revisions(connection) == heads
