"""Allies excluded from, or included in, the Alaska summit: plots and table of the ensemble.

    python experiments/allies/analyse.py <sweep_dir> [--out experiments/allies/results]

``sweep_dir``: the directory ``diplosim -m --config-dir experiments/allies --config-name experiment``
printed (or ``outputs/experiments/allies``: the newest sweep inside).  Writes ``outcomes.png``
(each outcome's mean per version of the summit, 95% CI), ``series.png`` (weekly means, 95% CI
bands), ``table.csv`` and ``table.md`` into ``--out``, and prints the markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402  (experiments/common.py)

BY = "scenario"
VARIANTS = {  # scenario option -> label; the first is the reference
    "alaska_2025": "allies excluded",
    "alaska_2025_ukraine_included": "Ukraine at the table",
    "alaska_2025_allies_included": "allies at the table",
}
OUTCOMES = ["cohesion_nato_eu_min", "cohesion_nato_eu", "allies_trust_in_us_min", "allies_trust_in_us",
            "ukraine_us_relation", "ceasefire_weeks", "agreements_signed_total", "us_russia_tension", "conflict_mean"]
SERIES = ["cohesion_nato_eu", "allies_trust_in_us", "ukraine_us_relation"]


def main(argv: list[str] | None = None) -> int:
    args, ensemble = common.command_line(__doc__, HERE, argv)
    md = common.analyse_variants(ensemble, args, BY, VARIANTS, OUTCOMES, SERIES, "Alaska summit: allies excluded or at the table",
                                 "experiments/allies/analyse.py")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
