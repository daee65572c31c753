"""What the experiments' analysis scripts share: reading an ensemble, confidence intervals, plots, tables.

Each ``experiments/<name>/analyse.py`` reads a sweep (a Hydra multirun of diplosim) through
``diplosim.analysis`` (``load_sweep``, ``run_outcomes``, ``summarise``), adds the outcomes the
article asks about that are not metrics columns (India's oil imports from Russia, weeks with a
ceasefire in force, ...), and writes PNG plots with 95% confidence intervals and a table.

- ``load_ensemble(sweep_dir)``: one row per run (``Ensemble.runs``) with the sweep's parameters and
  every outcome of ``OUTCOMES``, and per-week series (``Ensemble.series``).
- ``compare(ensemble, by, order, outcomes)``: mean and 95% CI of each outcome per setting
  (``diplosim.analysis.summarise``), and the difference from the first setting with its 95% CI,
  paired by seed (every setting runs the same seeds: common random numbers).
- ``plot_outcomes``, ``plot_series``: the figures; ``write_tables``: CSV and markdown.
- ``command_line(doc, here, argv)``: every analysis script's arguments (``sweep_dir``, ``--out``)
  and its ensemble; ``analyse_variants``: the whole analysis of a sweep over named variants.

Nothing here imports JAX: the scripts read Parquet only.
"""

from __future__ import annotations

import argparse
import csv
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from diplosim.analysis import (
    AnalysisError,
    describe_sample,
    is_sweep_dir,
    load_sweep,
    parameters,
    run_outcomes,
    summarise,
    t_quantile,
)

CONFIDENCE = 0.95
THREAT_STEP = 3  # alaska_2025's india_oil_tariff fires during week 3: oil flows are averaged after it


@dataclass(frozen=True)
class Outcome:
    """A per-run outcome: its column, a label for plots and tables, and how to print it."""

    name: str
    label: str
    short: str  # for table headers
    fmt: str = ".3f"


OUTCOMES = {o.name: o for o in (
    Outcome("us_russia_tension", "US-Russia tension, final week", "US-Russia tension"),
    Outcome("us_russia_trust", "US trust in Russia, final week", "US trust in Russia"),
    Outcome("cohesion_nato_eu", "NATO/EU cohesion, final week", "NATO/EU cohesion"),
    Outcome("cohesion_nato_eu_min", "NATO/EU cohesion, lowest week", "NATO/EU cohesion, lowest"),
    Outcome("ukraine_us_relation", "Ukraine-US relation (trust - tension), final", "Ukraine-US relation"),
    Outcome("allies_trust_in_us", "European allies' trust in the US, final", "allies' trust in US"),
    Outcome("allies_trust_in_us_min", "European allies' trust in the US, lowest", "allies' trust in US, lowest"),
    Outcome("agreements_signed_total", "agreements signed (per run)", "agreements signed", ".2f"),
    Outcome("agreements_violated_total", "detected violations (per run)", "detected violations", ".2f"),
    Outcome("ceasefire_weeks", "share of weeks with a ceasefire in force", "weeks with a ceasefire"),
    Outcome("ceasefire_at_end", "ceasefire in force at the end (share of runs)", "ceasefire at the end"),
    Outcome("conflict_mean", "armed conflict, mean over the weeks", "armed conflict"),
    Outcome("india_oil_from_russia", "India's oil imports from Russia (mb/d, after week 3)", "India's oil from Russia (mb/d)"),
    Outcome("russia_oil_sold", "Russia's oil exports (mb/d, after week 3)", "Russia's oil exports (mb/d)"),
    Outcome("energy_price_mean", "oil price (USD/bbl, mean)", "oil price (USD/bbl)", ".2f"),
    Outcome("russia_gdp", "Russia's gdp, final (USD bn/yr)", "Russia's gdp (USD bn)", ".0f"),
    Outcome("india_gdp", "India's gdp, final (USD bn/yr)", "India's gdp (USD bn)", ".0f"),
)}

SERIES = {  # per-week series: label
    "cohesion_nato_eu": "NATO/EU cohesion",
    "ukraine_us_relation": "Ukraine-US relation (trust - tension)",
    "allies_trust_in_us": "European allies' trust in the US (sampled weeks)",
    "india_oil_from_russia": "India's oil imports from Russia, mb/d (sampled weeks)",
    "us_russia_tension": "US-Russia tension",
    "us_russia_trust": "US trust in Russia",
    "ceasefire_in_force": "ceasefire in force (share of runs)",
    "conflict_total": "armed conflict (sum over pairs)",
    "agreements_violated_cumulative": "detected violations so far",
}


# --- reading ---------------------------------------------------------------------------------------


def resolve_sweep(path: str | Path) -> Path:
    """The sweep directory ``path`` names: itself, or (an experiment's output folder, such as
    ``outputs/experiments/allies``) the most recently modified sweep directory inside it."""
    path = Path(path)
    if is_sweep_dir(path):
        return path
    inside = [p for p in path.iterdir() if is_sweep_dir(p)] if path.is_dir() else []
    if not inside:
        raise AnalysisError(f"{path}: not a sweep directory, and no sweep directory inside it")
    chosen = max(inside, key=lambda p: p.stat().st_mtime)
    if len(inside) > 1:
        print(f"{path}: {len(inside)} sweeps inside; reading the newest, {chosen.name}")
    return chosen


@dataclass
class Ensemble:
    """The runs of a sweep: ``runs`` (column -> array, one entry per run, rows ordered by job),
    ``parameters`` (the override columns, ``seed`` first), ``steps`` ([T + 1] weeks, row 0 the
    initial world) and ``series`` (name -> [runs, T + 1]); ``per_run`` is the same rows as the
    pyarrow table ``diplosim.analysis.run_outcomes`` returns, with the added outcomes."""

    sweep_dir: Path
    runs: dict[str, np.ndarray]
    parameters: list[str]
    steps: np.ndarray
    series: dict[str, np.ndarray]
    per_run: pa.Table

    def __len__(self) -> int:
        return len(self.runs["run_id"])


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    return column.to_numpy(zero_copy_only=False)


def _pivot(run_ids: np.ndarray, steps: np.ndarray, values: np.ndarray, runs: np.ndarray, all_steps: np.ndarray) -> np.ndarray:
    """[len(runs), len(all_steps)] from long rows (NaN where a run has no row)."""
    out = np.full((len(runs), len(all_steps)), np.nan)
    row = {r: i for i, r in enumerate(runs)}
    col = {int(s): j for j, s in enumerate(all_steps)}
    for r, s, v in zip(run_ids, steps, values):
        j = col.get(int(s))
        if j is not None and r in row:
            out[row[r], j] = v
    return out


def load_ensemble(sweep_dir: str | Path) -> Ensemble:
    """Every completed run of the sweep in ``sweep_dir`` with the outcomes of ``OUTCOMES``.

    From ``metrics``: the headline outcomes of ``diplosim.analysis.run_outcomes`` at each run's
    last step, the final tension and trust of the watched dyad ``us_russia``, the lowest NATO/EU
    cohesion, the mean armed conflict.  From ``events``: ceasefires with Russia as a party
    (signed, detected broken, expired), giving the weeks with one in force.  From ``dyads`` and
    ``states`` (when the sweep sampled them): India's oil imports from Russia and Russia's oil
    exports, averaged over the samples after week ``THREAT_STEP``, and Russia's and India's gdp.
    """
    sweep_dir = resolve_sweep(sweep_dir)
    metrics = load_sweep(sweep_dir, "metrics")
    per_run = run_outcomes(metrics)
    names = parameters(per_run)
    run_ids = _column(per_run, "run_id")
    order = np.argsort(_column(per_run, "job")) if "job" in per_run.column_names else np.arange(len(run_ids))
    per_run = per_run.take(pa.array(order))
    run_ids = run_ids[order]
    m_runs, m_steps = _column(metrics, "run_id"), _column(metrics, "step")
    steps = np.unique(m_steps)
    series = {}
    for name in ("cohesion_nato_eu", "ukraine_us_relation", "us_russia_tension",
                 "us_russia_trust", "conflict_total", "agreements_violated"):
        if name in metrics.column_names:
            series[name] = _pivot(m_runs, m_steps, _column(metrics, name), run_ids, steps)
    if "agreements_violated" in series:
        series["agreements_violated_cumulative"] = np.nancumsum(series.pop("agreements_violated"), axis=1)
    series["ceasefire_in_force"] = _ceasefires(sweep_dir, run_ids, steps)

    last = np.array([np.flatnonzero(~np.isnan(row))[-1] if (~np.isnan(row)).any() else 0
                     for row in series.get("us_russia_tension", np.zeros((len(run_ids), 1)))])
    added: dict[str, np.ndarray] = {}
    rows = np.arange(len(run_ids))
    for name in ("us_russia_tension", "us_russia_trust"):
        if name in series:
            added[name] = series[name][rows, last]
    if "cohesion_nato_eu" in series:
        added["cohesion_nato_eu_min"] = _row_min(series["cohesion_nato_eu"])
    if "conflict_total" in series:
        added["conflict_mean"] = np.nanmean(series["conflict_total"][:, 1:], axis=1)
    in_force = series["ceasefire_in_force"]
    added["ceasefire_weeks"] = np.nanmean(in_force[:, 1:], axis=1) if in_force.shape[1] > 1 else np.zeros(len(run_ids))
    added["ceasefire_at_end"] = in_force[rows, last]
    price = _pivot(m_runs, m_steps, _column(metrics, "energy_price"), run_ids, steps)
    added["energy_price_mean"] = np.nanmean(price[:, 1:], axis=1) if len(steps) > 1 else price[:, 0]
    sampled_outcomes, sampled_series = _dyads_and_states(sweep_dir, run_ids, steps)
    added.update(sampled_outcomes)
    series.update(sampled_series)
    for name, values in added.items():
        if name not in per_run.column_names:
            per_run = per_run.append_column(name, pa.array(np.asarray(values, np.float64)))
    runs = {name: _column(per_run, name) for name in per_run.column_names}
    return Ensemble(sweep_dir, runs, names, steps, series, per_run)


AGREEMENT_EVENTS = {"agreement_signed": 1, "agreement_violated": -1, "agreement_expired": -1}


def _ceasefires(sweep_dir: Path, run_ids: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """[runs, T + 1]: 1 where a ceasefire with Russia as a party is in force after the week, else 0.

    An event of week s (a ceasefire signed, detected broken or expired during step s) shows in
    the metrics row s + 1; the initial world (row 0) has none in force.
    """
    events = load_sweep(sweep_dir, "events", columns=["run_id", "step", "origin", "kind", "name", "actor", "target"],
                        filter=pc.field("origin") == "endogenous")
    kind, name = _column(events, "kind"), _column(events, "name")
    actor, target = _column(events, "actor"), _column(events, "target")
    ceasefire = np.array([isinstance(n, str) and n.startswith("ceasefire") for n in name], bool)
    russia = (actor == "Russia") | (target == "Russia")
    delta = np.array([AGREEMENT_EVENTS.get(k, 0) for k in kind], np.int64)
    keep = ceasefire & russia & (delta != 0)
    change = np.zeros((len(run_ids), len(steps)))
    row = {r: i for i, r in enumerate(run_ids)}
    col = {int(s): j for j, s in enumerate(steps)}
    for r, s, d in zip(_column(events, "run_id")[keep], _column(events, "step")[keep], delta[keep]):
        j = col.get(int(s) + 1)
        if j is not None and r in row:
            change[row[r], j] += d
    return (np.cumsum(change, axis=1) > 0).astype(np.float64)


ALLIES = ("Germany", "France", "United Kingdom", "Poland")  # the European allies excluded at Alaska


def _by_run(table: pa.Table, run_ids: np.ndarray, value: np.ndarray, how: str) -> np.ndarray:
    """Per run: the mean of ``value`` over the table's rows (``how="mean"``) or its value at the
    run's last step (``"last"``); NaN for a run without rows."""
    row = {r: i for i, r in enumerate(run_ids)}
    index = np.array([row.get(r, -1) for r in _column(table, "run_id")], np.int64)
    keep = index >= 0
    index, value, step = index[keep], np.asarray(value, np.float64)[keep], _column(table, "step")[keep]
    out = np.full(len(run_ids), np.nan)
    if how == "mean":
        sums = np.bincount(index, value, len(run_ids))
        counts = np.bincount(index, None, len(run_ids))
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    last = np.full(len(run_ids), -1)
    np.maximum.at(last, index, step)
    at_last = step == last[index]
    sums = np.bincount(index[at_last], value[at_last], len(run_ids))
    counts = np.bincount(index[at_last], None, len(run_ids))
    out[counts > 0] = (sums / np.maximum(counts, 1))[counts > 0]
    return out


def _row_min(values: np.ndarray) -> np.ndarray:
    """Each row's smallest value, ignoring NaN (NaN for a row of NaN only)."""
    filled = np.where(np.isnan(values), np.inf, values).min(axis=1)
    return np.where(np.isinf(filled), np.nan, filled)


def _dyads_and_states(sweep_dir: Path, run_ids: np.ndarray, steps: np.ndarray) -> tuple[dict, dict]:
    """Outcomes and series from the sampled ``dyads`` and ``states`` tables (empty if not sampled)."""
    outcomes: dict[str, np.ndarray] = {}
    series: dict[str, np.ndarray] = {}
    try:
        dyads = load_sweep(sweep_dir, "dyads", columns=["run_id", "step", "src", "dst", "energy_flow", "trust_alpha", "trust_beta"],
                           filter=pc.field("src").isin(["Russia", *ALLIES]) & pc.field("dst").isin(["India", "United States"]))
    except AnalysisError:  # the sweep sampled no dyads (output.dyads=false)
        dyads = None
    if dyads is not None:
        src, dst, step = _column(dyads, "src"), _column(dyads, "dst"), _column(dyads, "step")
        oil = dyads.filter(pa.array((src == "Russia") & (dst == "India") & (step > THREAT_STEP)))
        outcomes["india_oil_from_russia"] = _by_run(oil, run_ids, _column(oil, "energy_flow"), "mean")
        flows = dyads.filter(pa.array((src == "Russia") & (dst == "India")))
        series["india_oil_from_russia"] = _pivot(_column(flows, "run_id"), _column(flows, "step"),
                                                 _column(flows, "energy_flow"), run_ids, steps)
        allies = dyads.filter(pa.array(np.isin(src, ALLIES) & (dst == "United States")))
        alpha, beta = _column(allies, "trust_alpha"), _column(allies, "trust_beta")
        trust = alpha / (alpha + beta)
        # the allies' mean trust per run and sampled week: average the four dyads of each (run, week)
        key = np.char.add(_column(allies, "run_id").astype(str), np.char.add("|", _column(allies, "step").astype(str)))
        keys, inverse = np.unique(key, return_inverse=True)
        mean = np.bincount(inverse, trust) / np.bincount(inverse)
        first = np.unique(inverse, return_index=True)[1]
        weekly = pa.table({"run_id": _column(allies, "run_id")[first], "step": _column(allies, "step")[first]})
        series["allies_trust_in_us"] = _pivot(_column(weekly, "run_id"), _column(weekly, "step"), mean, run_ids, steps)
        outcomes["allies_trust_in_us"] = _by_run(weekly, run_ids, mean, "last")
        outcomes["allies_trust_in_us_min"] = _row_min(series["allies_trust_in_us"])
    try:
        states = load_sweep(sweep_dir, "states", columns=["run_id", "step", "state", "gdp", "energy_sold"],
                            filter=pc.field("state").isin(["Russia", "India"]))
    except AnalysisError:
        return outcomes, series
    state, step = _column(states, "state"), _column(states, "step")
    russia = states.filter(pa.array(state == "Russia"))
    india = states.filter(pa.array(state == "India"))
    after = russia.filter(pa.array(_column(russia, "step") > THREAT_STEP))
    outcomes["russia_oil_sold"] = _by_run(after, run_ids, _column(after, "energy_sold"), "mean")
    outcomes["russia_gdp"] = _by_run(russia, run_ids, _column(russia, "gdp"), "last")
    outcomes["india_gdp"] = _by_run(india, run_ids, _column(india, "gdp"), "last")
    return outcomes, series


# --- comparing settings ----------------------------------------------------------------------------


def add_setting(ensemble: Ensemble, name: str, values: Sequence[str]) -> None:
    """Add a per-run column ``name`` (e.g. one label for each combination of two parameters), to
    compare and plot by it as by a parameter."""
    values = [str(v) for v in values]
    ensemble.per_run = ensemble.per_run.append_column(name, pa.array(values, pa.string()))
    ensemble.runs[name] = np.array(values, dtype=object)


def compare(ensemble: Ensemble, by: str, order: Sequence, outcomes: Sequence[str], reference=None) -> list[dict]:
    """One row per setting of ``by`` (in ``order``) and outcome; ``reference``: the setting the
    differences are taken from (default: the first of ``order``).

    ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high``: ``diplosim.analysis.summarise`` over the
    runs of the setting (Student's t interval of the mean).  ``diff``, ``diff_low``, ``diff_high``:
    the mean difference from the reference setting and its 95% interval, paired by seed over the
    seeds both settings ran (unpaired, Welch, when they share none); NaN for the reference.
    """
    reference = order[0] if reference is None else reference
    table = summarise(ensemble.per_run, by=[by], outcomes=list(outcomes), confidence=CONFIDENCE)
    found = {(r[by], r["outcome"]): r for r in table.to_pylist()}
    seeds = ensemble.runs["seed"]
    setting = ensemble.runs[by]
    rows = []
    for value in order:
        for outcome in outcomes:
            row = dict(found.get((value, outcome), {by: value, "outcome": outcome, "n": 0, "mean": math.nan,
                                                     "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}))
            row["diff"], row["diff_low"], row["diff_high"] = (
                (math.nan,) * 3 if value == reference
                else difference(ensemble.runs[outcome], setting == value, setting == reference, seeds))
            rows.append(row)
    return rows


def difference(values: np.ndarray, a: np.ndarray, b: np.ndarray, seeds: np.ndarray) -> tuple[float, float, float]:
    """Mean of values[a] - values[b] and its 95% CI: paired by seed where the seeds match."""
    va = dict(zip(seeds[a].tolist(), values[a].tolist()))
    vb = dict(zip(seeds[b].tolist(), values[b].tolist()))
    common = sorted(set(va) & set(vb))
    if common:
        d = np.array([va[s] - vb[s] for s in common], np.float64)
        d = d[~np.isnan(d)]
        _, mean, _, low, high = describe_sample(d, CONFIDENCE)
        return mean, low, high
    xa, xb = values[a][~np.isnan(values[a])], values[b][~np.isnan(values[b])]
    if len(xa) < 2 or len(xb) < 2:
        return math.nan, math.nan, math.nan
    ea, eb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    mean = float(xa.mean() - xb.mean())
    if ea + eb == 0:
        return mean, mean, mean
    df = (ea + eb) ** 2 / (ea**2 / (len(xa) - 1) + eb**2 / (len(xb) - 1))
    half = t_quantile(0.5 + CONFIDENCE / 2, df) * math.sqrt(ea + eb)
    return mean, mean - half, mean + half


def series_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean and 95% CI of the mean over the rows of ``values`` [runs, T] (NaN: not
    sampled that week; a column without values gives NaN)."""
    n = np.sum(~np.isnan(values), axis=0)
    total = np.nansum(values, axis=0)
    mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    squares = np.nansum((values - mean) ** 2, axis=0)
    sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
    t = np.array([t_quantile(0.5 + CONFIDENCE / 2, k - 1) if k > 1 else math.nan for k in n])
    half = t * sd / np.sqrt(np.maximum(n, 1))
    return mean, mean - half, mean + half


# --- figures and tables ----------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    """``fig`` as a small PNG (80 dpi, a palette of 128 colours) at ``path``; the figure is closed."""
    import io

    from PIL import Image

    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=80, format="png")
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buffer).convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


COLOURS = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057")


def plot_outcomes(rows: list[dict], by: str, order: Sequence, labels: dict, outcomes: Sequence[str], path: Path,
                  title: str, *, positions: dict | None = None, hues: dict | None = None, xlabel: str | None = None) -> Path:
    """One panel per outcome: each setting's mean with its 95% CI.

    Settings as categories (error bars), or, with ``positions`` (setting -> number), on a numeric
    axis as lines with 95% bands, one line per ``hues`` value (setting -> line label)."""
    plt = _pyplot()
    cols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.1 * nrows), squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes):
        chosen = [next(r for r in rows if r[by] == v and r["outcome"] == outcome) for v in order]
        mean = np.array([r["mean"] for r in chosen], float)
        low = np.array([r["ci_low"] for r in chosen], float)
        high = np.array([r["ci_high"] for r in chosen], float)
        if positions is not None:
            x = np.array([positions[v] for v in order], float)
            line = np.array([(hues or {}).get(v, "") for v in order], dtype=object)
            for i, name in enumerate(dict.fromkeys(line.tolist())):
                at = np.flatnonzero(line == name)
                at = at[np.argsort(x[at])]
                colour = COLOURS[i % len(COLOURS)]
                ax.fill_between(x[at], low[at], high[at], color=colour, alpha=0.25, lw=0)
                ax.plot(x[at], mean[at], "o-", color=colour, ms=4, label=name or None)
            ax.set_xlabel(xlabel or by, fontsize=8)
        else:
            x = np.arange(len(order))
            for i in range(len(order)):
                ax.errorbar(x[i], mean[i], yerr=[[mean[i] - low[i]], [high[i] - mean[i]]], fmt="o",
                            color=COLOURS[i % len(COLOURS)], capsize=4, ms=6)
            ax.set_xticks(x, [textwrap.fill(labels.get(v, str(v)), 14) for v in order], fontsize=7)
            ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_title(OUTCOMES[outcome].label if outcome in OUTCOMES else outcome, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.axis("off")
    n = min(r["n"] for r in rows if r["outcome"] == outcomes[0])
    fig.suptitle(f"{title}\nmean and 95% CI of the mean over {n} runs per setting", fontsize=10)
    fig.tight_layout()
    if hues:  # one legend for every panel, below them
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.subplots_adjust(bottom=0.1 + 0.02 * math.ceil(len(names) / 2))
        fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8, frameon=False)
    return save(fig, path)


def plot_series(ensemble: Ensemble, by: str, order: Sequence, labels: dict, series: Sequence[str], path: Path,
                title: str) -> Path:
    """One panel per series: its weekly mean per setting with a 95% CI band."""
    plt = _pyplot()
    chosen = [s for s in series if s in ensemble.series]
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.4 * len(chosen), 3.3), squeeze=False)
    setting = ensemble.runs[by]
    for ax, name in zip(axes.flat, chosen):
        for i, value in enumerate(order):
            values = ensemble.series[name][setting == value]
            if not len(values):
                continue
            mean, low, high = series_band(values)
            sampled = ~np.isnan(mean)  # series from the dyads and states tables: the sampled weeks only
            colour = COLOURS[i % len(COLOURS)]
            ax.fill_between(ensemble.steps[sampled], low[sampled], high[sampled], color=colour, alpha=0.2, lw=0)
            ax.plot(ensemble.steps[sampled], mean[sampled], color=colour, lw=1.3, label=labels.get(value, str(value)))
        ax.set_title(SERIES.get(name, name), fontsize=9)
        ax.set_xlabel("week", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{title}: weekly mean and 95% CI band", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def _cell(mean: float, low: float, high: float, fmt: str) -> str:
    if math.isnan(mean):
        return "-"
    if math.isnan(low):
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def write_csv(rows: list[dict], by: str, labels: dict, path: Path) -> Path:
    """Every number of ``compare``'s rows, one line per setting and outcome."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [by, "setting", "outcome", "n", "mean", "sd", "ci_low", "ci_high", "diff", "diff_low", "diff_high"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({**{k: r.get(k) for k in fields}, "setting": labels.get(r[by], str(r[by]))})
    return path


def markdown(rows: list[dict], by: str, order: Sequence, labels: dict, outcomes: Sequence[str], *,
             settings_as_rows: bool = False, reference=None) -> str:
    """Each setting's mean [95% CI] per outcome, then each setting's difference from ``reference``
    (default: the first of ``order``), paired by seed, [95% CI].  The settings are columns (one row
    per outcome), or with ``settings_as_rows`` rows (one column per outcome, the differences in a
    second table): for many settings."""
    reference = order[0] if reference is None else reference
    others = [v for v in order if v != reference]
    names = [labels.get(v, str(v)) for v in order]
    ref_name = labels.get(reference, str(reference))
    cell = {(r[by], r["outcome"]): r for r in rows}
    n = sorted({cell[(v, o)]["n"] for v in order for o in outcomes})
    fmt = {o: OUTCOMES[o].fmt if o in OUTCOMES else ".3f" for o in outcomes}
    label = {o: OUTCOMES[o].label if o in OUTCOMES else o for o in outcomes}
    short = {o: OUTCOMES[o].short if o in OUTCOMES else o for o in outcomes}

    def mean_of(v, o):
        r = cell[(v, o)]
        return _cell(r["mean"], r["ci_low"], r["ci_high"], fmt[o])

    def diff_of(v, o):
        r = cell[(v, o)]
        return _cell(r["diff"], r["diff_low"], r["diff_high"], "+" + fmt[o])

    lines = [f"Mean [95% CI of the mean] over the runs of each setting (n = {', '.join(map(str, n))}); "
             f"Δ: difference from *{ref_name}*, paired by seed, [95% CI].", ""]
    if not settings_as_rows:
        head = ["outcome", *names, *(f"Δ {labels.get(v, str(v))}" for v in others)]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for o in outcomes:
            lines.append("| " + " | ".join([label[o], *(mean_of(v, o) for v in order), *(diff_of(v, o) for v in others)]) + " |")
    else:
        head = ["setting", *(short[o] for o in outcomes)]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([name, *(mean_of(v, o) for o in outcomes)]) + " |" for v, name in zip(order, names)]
        lines += ["", f"Δ from *{ref_name}* (paired by seed) [95% CI]:", ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([labels.get(v, str(v)), *(diff_of(v, o) for o in outcomes)]) + " |" for v in others]
        lines += ["", "Columns: " + "; ".join(f"{short[o]}: {label[o]}" for o in outcomes if short[o] != label[o]) + "."]
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], by: str, order: Sequence, labels: dict, outcomes: Sequence[str], out_dir: Path,
                 note: str, *, settings_as_rows: bool = False, reference=None) -> tuple[Path, Path]:
    """``table.csv`` (``write_csv``) and ``table.md`` (``note``, then ``markdown``)."""
    csv_path = write_csv(rows, by, labels, out_dir / "table.csv")
    md_path = out_dir / "table.md"
    md_path.write_text(note + "\n\n" + markdown(rows, by, order, labels, outcomes, settings_as_rows=settings_as_rows,
                                                  reference=reference))
    return csv_path, md_path


def header(ensemble: Ensemble, command: str) -> str:
    """The table's first line: where the numbers come from."""
    return (f"From `{command}` on the sweep `{ensemble.sweep_dir}` ({len(ensemble)} runs, "
            f"weeks 0-{int(ensemble.steps[-1])}).")


def command_line(doc: str, here: Path, argv: list[str] | None) -> tuple[argparse.Namespace, Ensemble]:
    """An analysis script's arguments (``sweep_dir``, ``--out``, by default ``<experiment>/results``)
    and the ensemble of the sweep they name."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--out", type=Path, default=here / "results")
    args = parser.parse_args(argv)
    return args, load_ensemble(args.sweep_dir)


def analyse_variants(ensemble: Ensemble, args: argparse.Namespace, by: str, variants: dict, outcomes: Sequence[str],
                     series: Sequence[str], title: str, script: str) -> Path:
    """Outcomes and series per variant (``variants``: value of ``by`` -> label, the first the reference),
    plotted and tabled into ``args.out``; returns the markdown table's path."""
    order = [v for v in variants if v in set(ensemble.runs[by].tolist())]
    if not order:
        raise SystemExit(f"{ensemble.sweep_dir}: no run of {', '.join(variants)} (column {by})")
    rows = compare(ensemble, by, order, outcomes)
    plot_outcomes(rows, by, order, variants, outcomes, args.out / "outcomes.png", title)
    plot_series(ensemble, by, order, variants, series, args.out / "series.png", title)
    command = f"python {script} {args.sweep_dir}"
    _, md = write_tables(rows, by, order, variants, outcomes, args.out, header(ensemble, command))
    return md
