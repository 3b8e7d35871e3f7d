"""The cost model against the machine (`make bench`): the largest request the default limits
accept at every corner (tests/cost_corners.py), each run in a fresh process, its CPU seconds
and peak memory against the model's estimate and the budget. Prints every corner with the
ratio measured/estimated and PASS or MISS; exits 1 on a MISS.

    .venv/bin/python bench/bench_cost.py [--sample]

CPU seconds are the machine's: measure on a quiet machine (a busy one stretches them, and
this benchmark's MISS then says so). ``--sample`` runs the sample the test suite runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bptt_studio.core.settings import Settings  # noqa: E402
from tests.cost_corners import (  # noqa: E402
    chosen,
    cpu_failures,
    memory_failures,
    report,
    status_failures,
    sweep,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", action="store_true", help="only the test suite's sample")
    args = parser.parse_args()
    settings = Settings()
    rows = sweep(chosen(everything=not args.sample), settings)
    print(report(rows, settings))
    failures = status_failures(rows) + memory_failures(rows, settings) + cpu_failures(rows,
                                                                                      settings)
    for failure in failures:
        print(f"  MISS {failure}")
    print("cost sweep: PASS" if not failures else f"cost sweep: MISS ({len(failures)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
