"""Global sensitivity of the Alaska scenario's headline outcomes: Sobol indices, plot and table.

    python experiments/sensitivity/analyse.py <dir or samples.parquet> [--out experiments/sensitivity/results]

Reads the ``samples.parquet`` that ``run.py`` wrote (the Saltelli points and each outcome's mean
over the replicates), computes each outcome's first-order (S1) and total (ST) Sobol indices with
95% bootstrap confidence intervals (``SALib.analyze.sobol``, 1000 resamples), and writes
``sobol.png`` (S1 and ST per factor, one panel per outcome), ``table.csv`` and ``table.md`` into
``--out``, and prints the markdown table.  An outcome that does not vary over the sample has no
indices (its row says so).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402  (experiments/common.py: the outcomes' labels)

METADATA_KEY = b"diplosim_sensitivity"  # as run.py
CONFIDENCE = 0.95


def read_samples(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``run.py``'s design record and its columns."""
    import pyarrow.parquet as pq

    path = path / "samples.parquet" if path.is_dir() else path
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (run experiments/sensitivity/run.py first)")
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise SystemExit(f"{path}: not written by experiments/sensitivity/run.py (no design record)")
    return json.loads(raw), {name: table.column(name).to_numpy() for name in table.column_names}


def sobol_indices(design: dict, columns: dict[str, np.ndarray], seed: int = 0) -> list[dict]:
    """One row per outcome and factor: S1, S1_conf, ST, ST_conf (half-widths of the 95% CIs)."""
    from SALib.analyze import sobol

    names = [f["name"] for f in design["factors"]]
    problem = {"num_vars": len(names), "names": names, "bounds": [[f["low"], f["high"]] for f in design["factors"]]}
    rows = []
    for outcome in design["outcomes"]:
        y = np.asarray(columns[outcome], np.float64)
        constant = not np.isfinite(y).all() or np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max()))
        result = None if constant else sobol.analyze(problem, y, calc_second_order=False, num_resamples=1000,
                                                     conf_level=CONFIDENCE, seed=seed)
        for i, name in enumerate(names):
            row = {"outcome": outcome, "factor": name, "mean": float(np.mean(y)), "sd": float(np.std(y, ddof=1)),
                   "min": float(np.min(y)), "max": float(np.max(y))}
            for key in ("S1", "S1_conf", "ST", "ST_conf"):
                row[key] = math.nan if result is None else float(result[key][i])
            rows.append(row)
    return rows


def label(outcome: str) -> str:
    return common.OUTCOMES[outcome].label if outcome in common.OUTCOMES else outcome


def plot(rows: list[dict], design: dict, path: Path) -> Path:
    plt = common._pyplot()
    outcomes = design["outcomes"]
    names = [f["name"] for f in design["factors"]]
    cols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.8 * cols, 3.4 * nrows), squeeze=False)
    x = np.arange(len(names))
    for ax, outcome in zip(axes.flat, outcomes):
        chosen = {r["factor"]: r for r in rows if r["outcome"] == outcome}
        for shift, key, colour in ((-0.2, "S1", common.COLOURS[0]), (0.2, "ST", common.COLOURS[2])):
            value = np.array([chosen[n][key] for n in names])
            conf = np.array([chosen[n][f"{key}_conf"] for n in names])
            ax.bar(x + shift, np.nan_to_num(value), width=0.4, color=colour, label=key,
                   yerr=np.nan_to_num(conf), capsize=2, error_kw={"lw": 0.8})
        if all(math.isnan(chosen[n]["S1"]) for n in names):
            ax.text(0.5, 0.5, "does not vary over the sample", transform=ax.transAxes, ha="center", fontsize=8)
        ax.set_xticks(x, names, rotation=60, ha="right", fontsize=7)
        ax.set_title(label(outcome), fontsize=9)
        ax.axhline(0, color="black", lw=0.5)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="y", labelsize=8)
    axes.flat[0].legend(fontsize=8)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
    fig.suptitle(f"Sobol indices (first order S1, total ST; 95% bootstrap CI) over {len(names)} coefficients; "
                 f"N = {design['n']}, {design['runs']} runs of {design['steps']} weeks", fontsize=10)
    fig.tight_layout()
    return common.save(fig, path)


def write_tables(rows: list[dict], design: dict, out: Path, source: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "table.csv"
    fields = ["outcome", "factor", "S1", "S1_conf", "ST", "ST_conf", "mean", "sd", "min", "max"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    names = [f["name"] for f in design["factors"]]
    outcomes = design["outcomes"]
    cell = {(r["outcome"], r["factor"]): r for r in rows}

    def fmt(r: dict) -> str:
        if math.isnan(r["S1"]):
            return "-"
        return f"{r['S1']:.2f} ± {r['S1_conf']:.2f} / {r['ST']:.2f} ± {r['ST_conf']:.2f}"

    lines = [f"From `{source}` on `{design['command']}`: N = {design['n']} Saltelli points per factor, "
             f"{len(names)} factors, {design['runs']} runs ({design['replicates']} seeds per point, outcomes averaged over "
             f"them) of {design['steps']} weeks of {design['scenario']}.", "",
             "S1 ± 95% CI half-width / ST ± 95% CI half-width (SALib bootstrap, 1000 resamples); "
             "'-': the outcome does not vary over the sample.", ""]
    head = ["factor (range)", *(label(o) for o in outcomes)]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ranges = {f["name"]: f"{f['low']:g}-{f['high']:g}" for f in design["factors"]}
    for name in names:
        lines.append("| " + " | ".join([f"{name} ({ranges[name]})", *(fmt(cell[(o, name)]) for o in outcomes)]) + " |")
    spread = [f"{cell[(o, names[0])]['mean']:.3f} (sd {cell[(o, names[0])]['sd']:.3f}; "
              f"{cell[(o, names[0])]['min']:.3f} to {cell[(o, names[0])]['max']:.3f})" for o in outcomes]
    lines.append("| *outcome mean (sd; lowest to highest) over the points* | " + " | ".join(spread) + " |")
    md_path = out / "table.md"
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path, help="run.py's output directory, or its samples.parquet")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    design, columns = read_samples(args.samples)
    rows = sobol_indices(design, columns)
    plot(rows, design, args.out / "sobol.png")
    _, md = write_tables(rows, design, args.out, f"python experiments/sensitivity/analyse.py {args.samples}")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
