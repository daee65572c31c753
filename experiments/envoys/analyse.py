"""Official or proxy envoys: plots and table of the ensemble.

    python experiments/envoys/analyse.py <sweep_dir> [--out experiments/envoys/results]

``sweep_dir``: the directory ``diplosim -m --config-dir experiments/envoys --config-name experiment``
printed (or ``outputs/experiments/envoys``: the newest sweep inside).  Writes ``outcomes.png``
(each outcome's mean per version of the envoys, 95% CI), ``series.png`` (weekly means, 95% CI
bands), ``table.csv`` and ``table.md`` into ``--out``, and prints the markdown table.
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    ensemble = common.load_ensemble(args.sweep_dir)
    order = [v for v in VARIANTS if v in set(ensemble.runs[BY].tolist())]
    if not order:
        raise SystemExit(f"{ensemble.sweep_dir}: no run of {', '.join(VARIANTS)} (column {BY})")
    rows = common.compare(ensemble, BY, order, OUTCOMES)
    title = "Official or proxy envoys"
    common.plot_outcomes(rows, BY, order, VARIANTS, OUTCOMES, args.out / "outcomes.png", title)
    common.plot_series(ensemble, BY, order, VARIANTS, SERIES, args.out / "series.png", title)
    command = f"python experiments/envoys/analyse.py {args.sweep_dir}"
    _, md = common.write_tables(rows, BY, order, VARIANTS, OUTCOMES, args.out, common.header(ensemble, command))
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
