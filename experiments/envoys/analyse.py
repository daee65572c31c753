"""Official or proxy envoys: plots and table of the ensemble.

    python experiments/envoys/analyse.py <sweep_dir> [--out experiments/envoys/results]

``sweep_dir``: the directory ``diplosim -m --config-dir experiments/envoys --config-name experiment``
printed (or ``outputs/experiments/envoys``: the newest sweep inside).  Writes ``outcomes.png``
(each outcome's mean per version of the envoys, 95% CI), ``series.png`` (weekly means, 95% CI
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
    "alaska_2025_envoys_official": "all official",
    "alaska_2025": "Dmitriev proxy (scenario)",
    "alaska_2025_russia_proxy": "Russia via proxies",
    "alaska_2025_envoys_proxy": "all proxy",
}
OUTCOMES = ["agreements_violated_total", "agreements_signed_total", "ceasefire_weeks", "ceasefire_at_end",
            "us_russia_trust", "us_russia_tension", "conflict_mean"]
SERIES = ["ceasefire_in_force", "agreements_violated_cumulative", "us_russia_trust"]


def main(argv: list[str] | None = None) -> int:
    args, ensemble = common.command_line(__doc__, HERE, argv)
    md = common.analyse_variants(ensemble, args, BY, VARIANTS, OUTCOMES, SERIES, "Official or proxy envoys",
                                 "experiments/envoys/analyse.py")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
