"""Run the benchmark: `make bench` (or `.venv/bin/python bench/run.py [--quick] [--help]`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.main import main

if __name__ == "__main__":
    sys.exit(main())
