"""Print the dev extra's direct dependencies pinned to their locked versions, as pip constraints.

`make test-lowest` installs the runtime dependencies at their lowest allowed releases (`--resolution
lowest-direct`) with these constraints, so only pyproject's runtime lower bounds are put to the test.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {normalise(re.match(r"[A-Za-z0-9_.\-]+", spec).group(0)) for spec in project["optional-dependencies"]["dev"]}
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    for package in lock["package"]:
        if normalise(package["name"]) not in dev:
            continue
        markers = package.get("resolution-markers")
        # A package locked at several versions (one per Python range) carries the marker of its range.
        suffix = f" ; {' or '.join(f'({m})' for m in markers)}" if markers else ""
        print(f"{package['name']}=={package['version']}{suffix}")


if __name__ == "__main__":
    main()
