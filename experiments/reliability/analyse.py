"""Russia's reliability from low to high: plots and table of the ensemble.

    python experiments/reliability/analyse.py <sweep_dir> [--out experiments/reliability/results]

``sweep_dir``: the directory ``diplosim -m --config-dir experiments/reliability --config-name
experiment`` printed (or ``outputs/experiments/reliability``: the newest sweep inside).  Writes
``outcomes.png`` (each outcome's mean against Russia's reliability, 95% CI band), ``series.png``
(weekly means at a low, the scenario's and a high reliability, 95% CI bands), ``table.csv`` and
``table.md`` into ``--out``, and prints the markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402  (experiments/common.py)

BY = "scenario.states.1.reliability"  # alaska_2025's state 1 is Russia
SCENARIO_VALUE = 0.4  # Russia's reliability in alaska_2025
OUTCOMES = ["agreements_violated_total", "agreements_signed_total", "ceasefire_weeks", "ceasefire_at_end",
            "us_russia_trust", "us_russia_tension", "conflict_mean", "cohesion_nato_eu", "india_oil_from_russia"]
SERIES = ["ceasefire_in_force", "us_russia_trust", "us_russia_tension"]


def main(argv: list[str] | None = None) -> int:
    args, ensemble = common.command_line(__doc__, HERE, argv)
    if BY not in ensemble.runs:
        raise SystemExit(f"{ensemble.sweep_dir}: no column {BY} (run the experiment's sweep)")
    values = sorted(set(ensemble.runs[BY].astype(float).tolist()))
    # the differences are taken from the scenario's value (from the lowest, if the sweep skipped it)
    reference = SCENARIO_VALUE if SCENARIO_VALUE in values else values[0]
    labels = {v: f"reliability {v:g}" + (" (scenario)" if v == SCENARIO_VALUE else "") for v in values}
    rows = common.compare(ensemble, BY, values, OUTCOMES, reference=reference)
    title = "Russia's reliability"
    common.plot_outcomes(rows, BY, values, labels, OUTCOMES, args.out / "outcomes.png", title,
                         positions={v: v for v in values}, xlabel="Russia's reliability")
    shown = sorted({values[0], SCENARIO_VALUE, values[-1]} & set(values))
    common.plot_series(ensemble, BY, shown, labels, SERIES, args.out / "series.png", title)
    command = f"python experiments/reliability/analyse.py {args.sweep_dir}"
    _, md = common.write_tables(rows, BY, values, labels, OUTCOMES, args.out, common.header(ensemble, command),
                                settings_as_rows=True, reference=reference)
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
