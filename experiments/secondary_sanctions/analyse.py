"""Secondary sanctions on or off, with and without a deal: plots and table of the ensemble.

    python experiments/secondary_sanctions/analyse.py <sweep_dir> [--out experiments/secondary_sanctions/results]

``sweep_dir``: the directory ``diplosim -m --config-dir experiments/secondary_sanctions
--config-name experiment`` printed (or ``outputs/experiments/secondary_sanctions``: the newest
sweep inside).  The sweep crosses the scheduled threat (``scenario.events.3.magnitude``), the US
rule of threatening on its own (``dynamics.secondary_tension``: 0.8 allows it, 1.0 never) and
whether a deal can be signed (``dynamics.agreement_gap``: 0.1 yes, 0 never).  Writes
``outcomes.png`` (each outcome's mean against the scheduled threat, one line per rule and deal,
95% CI bands), ``series.png`` (weekly means with the threat off and carried out in full, with
and without a deal), ``table.csv`` and ``table.md`` (one table per deal setting, differences
from that setting's "off" cell) into ``--out``, and prints the markdown.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402  (experiments/common.py)

THREAT = "scenario.events.3.magnitude"  # alaska_2025's event 3: india_oil_tariff
RULE = "dynamics.secondary_tension"
DEAL = "dynamics.agreement_gap"
RULES = {1.0: "no threats of its own", 0.8: "own threats above tension 0.8"}
DEALS = {0.1: "deal possible", 0.0: "no deal"}
OUTCOMES = ["india_oil_from_russia", "russia_oil_sold", "energy_price_mean", "russia_gdp", "india_gdp",
            "us_russia_tension", "ceasefire_weeks", "conflict_mean", "cohesion_nato_eu"]
SERIES = ["india_oil_from_russia", "us_russia_tension", "ceasefire_in_force"]


def defaults() -> dict[str, float]:
    """Each factor's value where the sweep leaves it alone: alaska_2025's threat, the Params defaults."""
    from diplosim.params import Params

    fields = Params.__dataclass_fields__
    return {THREAT: 0.4, RULE: fields["secondary_tension"].default, DEAL: fields["agreement_gap"].default}


def name(value: float, names: dict, key: str) -> str:
    return names.get(value, f"{key} {value:g}")


def setting(threat: float, rule: float, deal: float) -> str:
    return f"threat {threat:g}, {name(rule, RULES, 'secondary_tension')}, {name(deal, DEALS, 'agreement_gap')}"


def main(argv: list[str] | None = None) -> int:
    args, ensemble = common.command_line(__doc__, HERE, argv)
    for column, value in defaults().items():  # a factor the sweep did not vary: its value in every run
        if column not in ensemble.runs:
            print(f"{column} not swept: every run has the default, {value:g}")
            common.add_setting(ensemble, column, [value] * len(ensemble))
            ensemble.runs[column] = ensemble.runs[column].astype(float)
    cells = list(zip(*(ensemble.runs[c].astype(float).tolist() for c in (THREAT, RULE, DEAL))))
    common.add_setting(ensemble, "setting", [setting(*c) for c in cells])
    # per deal setting: "off" (threat 0, no threats of its own) first, the reference of the differences
    combos = sorted(set(cells), key=lambda c: (-c[2], -c[1], c[0]))
    deals = list(dict.fromkeys(c[2] for c in combos))
    labels = {setting(*c): f"threat {c[0]:g}, {name(c[1], RULES, 'secondary_tension')}" for c in combos}
    rows, sections = [], []
    for deal in deals:
        order = [setting(*c) for c in combos if c[2] == deal]
        part = common.compare(ensemble, "setting", order, OUTCOMES)
        rows += part
        sections.append(f"### {name(deal, DEALS, 'agreement_gap')} ({DEAL} = {deal:g})\n\n"
                        + common.markdown(part, "setting", order, labels, OUTCOMES, settings_as_rows=True))
    order = [setting(*c) for c in combos]
    title = "Secondary sanctions on buyers of Russian oil"
    hues = {setting(*c): f"{name(c[1], RULES, 'secondary_tension')}; {name(c[2], DEALS, 'agreement_gap')}" for c in combos}
    common.plot_outcomes(rows, "setting", order, labels, OUTCOMES, args.out / "outcomes.png", title,
                         positions={setting(*c): c[0] for c in combos}, hues=hues,
                         xlabel="scheduled threat of week 3 (magnitude)")
    shown = [setting(t, r, d) for d in deals for t, r in ((0.0, 1.0), (1.0, 0.8)) if (t, r, d) in set(combos)]
    series_labels = {s: s.replace(", no threats of its own", " (off)").replace(", own threats above tension 0.8", "")
                     for s in shown}
    common.plot_series(ensemble, "setting", shown, series_labels, SERIES, args.out / "series.png", title)
    common.write_csv(rows, "setting", {s: s for s in order}, args.out / "table.csv")
    command = f"python experiments/secondary_sanctions/analyse.py {args.sweep_dir}"
    md = args.out / "table.md"
    md.write_text(common.header(ensemble, command) + "\n\n" + "\n".join(sections))
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
