"""Reading runs and sweeps back for analysis, and ``diplosim summary <run_dir | sweep_dir>``.

One run: ``read_run(run_dir)``.

>>> run = read_run("outputs/runs/2025-08-15/12-00-00_alaska_2025")   # doctest: +SKIP
>>> run["metrics"].num_rows, run.metadata["seed"]                     # doctest: +SKIP

A sweep (Hydra multirun): ``load_sweep(sweep_dir, table)`` is every completed job's table as one
pyarrow Table, with the job number and the job's overrides as columns; ``run_outcomes`` takes
each run's headline outcomes at its last step; ``summarise`` gives their mean, sd, n and 95% CI
per setting of the swept parameters.

>>> metrics = load_sweep("outputs/sweeps/alaska_2025-3f2a9c1b0d4e")        # doctest: +SKIP
>>> summarise(metrics, by=["dynamics.trade_relax"])                         # doctest: +SKIP

A run directory holds ``metrics.parquet`` and ``events.parquet`` and, when they were sampled,
``states.parquet`` and ``dyads.parquet`` (see ``diplosim.io``).  Each file appears under its
final name only once complete, and ``events.parquet`` is written last, so a run that was stopped
part-way lacks it.  Every problem is one ``AnalysisError`` line naming the file.  Temporary files
(``.<name>.<random>.tmp``) are never read.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from diplosim.usage import OneLineParser, UsageError

TABLES = ("metrics", "states", "dyads", "events")  # the order diplosim.io writes them in
REQUIRED = ("metrics", "events")
METADATA_KEY = b"diplosim"  # as in diplosim.io (not imported: it pulls in the JAX core)


class AnalysisError(ValueError):
    """A run directory that cannot be read, as one line naming the file and what is wrong."""


class RunTables(dict):
    """The tables of one run by name (``metrics``, ``states``, ``dyads``, ``events``).

    ``metadata`` is the run's record (run_id, scenario, seed, config, package versions, JAX
    backend) and ``path`` its directory.
    """

    def __init__(self, path: Path, tables: dict[str, pa.Table], metadata: dict):
        super().__init__(tables)
        self.path = path
        self.metadata = metadata


def read_run(run_dir: str | Path, tables: Iterable[str] | None = None) -> RunTables:
    """The tables of the run in ``run_dir`` (a run directory, or one of its table files).

    ``tables`` picks which to load (default: every one present); the others are still checked
    (their footer and metadata), so a damaged or incomplete run is never read as a whole one.
    Raises ``AnalysisError`` for a missing directory, a directory without tables, a file that is
    not a complete Parquet file, a run missing a table, or tables from different runs.
    """
    run_dir = _run_directory(Path(run_dir))
    wanted = TABLES if tables is None else tuple(tables)
    unknown = [name for name in wanted if name not in TABLES]
    if unknown:
        raise AnalysisError(f"unknown table(s) {', '.join(unknown)}; allowed: {', '.join(TABLES)}")
    present = [name for name in TABLES if (run_dir / f"{name}.parquet").is_file()]
    if not present:
        raise AnalysisError(
            f"{run_dir}: no diplosim tables here (expected {', '.join(f'{n}.parquet' for n in TABLES)})"
        )
    known: dict[bytes, dict] = {}
    records = {name: _record(run_dir / f"{name}.parquet", known) for name in present}
    _check_one_complete_run(run_dir, records)
    loaded = {name: _read_table(run_dir / f"{name}.parquet") for name in present if name in wanted}
    return RunTables(run_dir, loaded, records[present[0]])


def _run_directory(path: Path) -> Path:
    if path.is_file() and path.suffix == ".parquet" and path.stem in TABLES:
        return path.parent
    if not path.exists():
        raise AnalysisError(f"{path}: no such directory (give a run's directory or a sweep's)")
    if not path.is_dir():
        raise AnalysisError(f"{path}: not a run directory (give the directory that holds metrics.parquet)")
    return path


def _record(path: Path, known: dict[bytes, dict] | None = None) -> dict:
    """The run record in the footer of ``path``: reads the footer only, so it checks it cheaply.

    ``known``: records already parsed, by their JSON text; a run's tables carry the same text,
    parsed once (the record holds the run's whole config, tens of kB).
    """
    try:  # the file's key-value metadata holds the schema's: read without building the Arrow schema (half the time)
        footer = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as err:
        raise AnalysisError(f"{path}: not a complete Parquet file ({_first_line(err)}); rerun the command that wrote it") from None
    raw = (footer.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise AnalysisError(f"{path}: not a diplosim table (no 'diplosim' record in its schema metadata)")
    if known is not None and raw in known:
        return known[raw]
    try:
        record = json.loads(raw)
    except ValueError:
        raise AnalysisError(f"{path}: its 'diplosim' schema metadata is not valid JSON") from None
    if not isinstance(record, dict) or "run_id" not in record:
        raise AnalysisError(f"{path}: its 'diplosim' schema metadata has no run_id")
    if known is not None:
        known[raw] = record
    return record


def _check_one_complete_run(run_dir: Path, records: dict[str, dict]) -> None:
    ids = {name: record["run_id"] for name, record in records.items()}
    if len(set(ids.values())) > 1:
        listed = ", ".join(f"{name}.parquet is run {run_id}" for name, run_id in ids.items())
        raise AnalysisError(f"{run_dir}: tables from different runs ({listed}); rerun into an empty directory")
    missing = [name for name in REQUIRED if name not in records]
    if missing:
        raise AnalysisError(
            f"{run_dir}: incomplete run: {', '.join(f'{n}.parquet' for n in missing)} missing "
            "(the run stopped before writing it); rerun the same command to complete it"
        )


def _read_table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise AnalysisError(f"{path}: not a complete Parquet file ({_first_line(err)}); rerun the command that wrote it") from None


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(err).__name__


# --- diplosim summary -----------------------------------------------------------------------------


def summary(run: RunTables) -> str:
    """The run's key metrics at its first and last step, and its events, as text (like a run prints)."""
    from diplosim.app import story

    metrics = run["metrics"]
    columns = set(metrics.column_names)
    value = lambda name: metrics.column(name).to_numpy()  # noqa: E731
    rows = [(label, value(name)) for label, name in (
        ("energy price (USD/bbl)", "energy_price"), ("armed conflict (sum)", "conflict_total"),
        ("polarisation", "polarisation"), ("total gdp (USD bn/yr)", "gdp_total"),
        ("mean approval", "approval_mean"), ("agreements in force", "agreements_in_force"),
    ) if name in columns]
    rows += [(label, np.cumsum(value(name))) for label, name in (
        ("agreements signed so far", "agreements_signed"), ("agreements violated so far", "agreements_violated"),
    ) if name in columns]
    rows += [(f"cohesion {c.removeprefix('cohesion_')}", value(c)) for c in metrics.column_names if c.startswith("cohesion_")]
    rows += [(f"relation {c.removesuffix('_relation')} (trust - tension)", value(c))
             for c in metrics.column_names if c.endswith("_relation")]
    steps = value("step")
    meta = run.metadata
    width = max(len(name) for name, _ in rows) if rows else 6
    lines = [
        f"diplosim run {meta['run_id']}: scenario {meta.get('scenario', '?')}, seed {meta.get('seed', '?')}, "
        f"{steps[-1] if len(steps) else 0} steps ({run.path})",
        f"{'metric':<{width}}  {'step ' + str(steps[0]):>12}  {'step ' + str(steps[-1]):>12}",
    ]
    lines += [f"{name:<{width}}  {float(v[0]):>12.3f}  {float(v[-1]):>12.3f}" for name, v in rows]
    lines += ["what happened:", *story(run["events"])]
    return "\n".join(lines)


# --- sweeps ---------------------------------------------------------------------------------------

SWEEP_KEY = b"diplosim_sweep"  # load_sweep's record in the returned table's schema metadata
# Each run's headline outcomes: (column, label, how): "last" is the value at the step, "total"
# the sum over the steps up to it (the metric counts events per step).
HEADLINE = (
    ("energy_price", "energy price (USD/bbl)", "last"),
    ("conflict_total", "armed conflict (sum)", "last"),
    ("polarisation", "polarisation", "last"),
    ("gdp_total", "total gdp (USD bn/yr)", "last"),
    ("approval_mean", "mean approval", "last"),
    ("agreements_in_force", "agreements in force", "last"),
    ("agreements_signed", "agreements signed so far", "total"),
    ("agreements_violated", "agreements violated so far", "total"),
)


def is_sweep_dir(path: str | Path) -> bool:
    """Whether ``path`` is a sweep's directory (Hydra's ``multirun.yaml``, a dataset, or job directories)."""
    from diplosim.sweep import DATASET, job_dirs

    path = Path(path)
    if not path.is_dir() or (path / "metrics.parquet").exists():
        return False
    return (path / "multirun.yaml").exists() or (path / DATASET).is_dir() or bool(job_dirs(path))


def load_sweep(sweep_dir: str | Path, table: str = "metrics", *, columns: Sequence[str] | None = None, filter=None) -> pa.Table:
    """Every completed job's ``table`` (metrics, states, dyads or events) of a sweep, as one Table.

    Columns: ``job`` (Hydra's job number), ``run_id``, the job's overrides as typed columns
    (``seed``, then each override of the command line by its key, e.g. ``dynamics.trade_relax``;
    see ``diplosim.sweep.job_overrides``), then the table's own columns.  ``columns`` and
    ``filter`` (a ``pyarrow.compute`` expression, e.g. ``pc.field("step") == 104``) are passed to
    ``pyarrow.dataset``.  ``parameters(table)`` lists the override columns.

    It reads ``<sweep_dir>/dataset``, the hive-partitioned dataset a multirun writes at its end,
    after bringing it up to date (``diplosim.sweep.sync_dataset``): a sweep that was stopped gives
    its completed jobs, never a half-written file.  Raises ``AnalysisError`` (one line) for a
    directory that is not a sweep, a sweep without a completed job, or a table it did not write.
    """
    import pyarrow.dataset as ds

    from diplosim.sweep import DATASET, sync_dataset

    sweep_dir = Path(sweep_dir)
    if table not in TABLES:
        raise AnalysisError(f"unknown table {table!r}; allowed: {', '.join(TABLES)}")
    if not sweep_dir.is_dir():
        raise AnalysisError(f"{sweep_dir}: no such sweep directory")
    try:
        found = sync_dataset(sweep_dir)
    except OSError as err:
        raise AnalysisError(f"{sweep_dir / DATASET}: cannot bring the sweep dataset up to date ({_first_line(err)})") from None
    if not found.complete:
        raise AnalysisError(
            f"{sweep_dir}: no completed job here (a sweep directory holds job directories 0, 1, ... with metrics.parquet)"
        )
    if table not in found.tables:
        raise AnalysisError(f"{sweep_dir}: the sweep wrote no {table} table (see output.{table} in its configuration)")
    root = found.dataset / table
    files = sorted(root.glob("job=*/*.parquet"))
    records = [_record(path) for path in files]
    schema = pa.unify_schemas([pq.read_schema(path) for path in files], promote_options="permissive")
    schema = schema.append(pa.field("job", pa.int32())).remove_metadata()
    dataset = ds.dataset(root, schema=schema, partitioning=ds.partitioning(pa.schema([("job", pa.int32())]), flavor="hive"))
    loaded = dataset.to_table(columns=list(columns) if columns is not None else None, filter=filter)
    names = _parameter_names(records, schema)
    if columns is None:
        first = ["job", "run_id", *names]
        loaded = loaded.select(first + [c for c in loaded.column_names if c not in first])
    note = {"sweep_dir": str(sweep_dir), "table": table, "parameters": names, "jobs": len(found.complete),
            "scenarios": sorted({r.get("scenario", "?") for r in records}),
            "left_out": {str(path): why for path, why in found.incomplete.items()}}
    return loaded.replace_schema_metadata({SWEEP_KEY: json.dumps(note).encode()})


def _parameter_names(records: list[dict], schema: pa.Schema) -> list[str]:
    """The override columns, in the tables' column order (seed, then the command line's order)."""
    names = {name for record in records for name in record.get("overrides", {})}
    return [name for name in schema.names if name in names]


def sweep_note(table: pa.Table) -> dict:
    """``load_sweep``'s record of where a table came from: sweep_dir, table, parameters (the
    override columns), jobs (how many), scenarios, left_out (incomplete job directories and why);
    ``run_outcomes`` adds per_run: true."""
    raw = (table.schema.metadata or {}).get(SWEEP_KEY)
    return json.loads(raw) if raw else {}


def parameters(table: pa.Table, varied: bool = False) -> list[str]:
    """The override columns of a table from ``load_sweep`` or ``run_outcomes`` (``seed`` first).

    ``varied=True``: only those taking more than one value in ``table``.
    """
    names = [n for n in sweep_note(table).get("parameters", []) if n in table.column_names]
    if varied:
        names = [n for n in names if len(pa.compute.unique(table.column(n))) > 1]
    return names


def run_outcomes(metrics: pa.Table, step: int | None = None) -> pa.Table:
    """Each run's headline outcomes, one row per run, from a sweep's (or a run's) metrics table.

    ``step``: the step to read them at (default: each run's last step).  Columns: ``job`` (if
    present), ``run_id``, the override columns, ``step``, then the outcomes: the values at the
    step of ``energy_price``, ``conflict_total``, ``polarisation``, ``gdp_total``,
    ``approval_mean``, ``agreements_in_force``, every ``cohesion_<bloc>`` and
    ``<watched dyad>_relation`` (trust - tension), and ``agreements_signed_total`` and
    ``agreements_violated_total``, the agreements signed and broken up to it.
    """
    import pyarrow.compute as pc

    names = parameters(metrics)
    if "run_id" not in metrics.column_names or "step" not in metrics.column_names:
        raise AnalysisError("run_outcomes: the table has no run_id or step column (give a metrics table)")
    run_ids = pc.cast(metrics.column("run_id"), pa.string()).to_numpy(zero_copy_only=False)
    steps = metrics.column("step").to_numpy()
    runs, run_index = np.unique(run_ids, return_inverse=True)
    order = np.lexsort((steps, run_index))
    starts = np.searchsorted(run_index[order], np.arange(len(runs)))
    ends = np.append(starts[1:], len(order))
    if step is None:
        at = order[ends - 1]
    else:
        at = np.full(len(runs), -1)
        for r, (a, b) in enumerate(zip(starts, ends)):
            hits = order[a:b][steps[order[a:b]] == step]
            if len(hits) == 0:
                raise AnalysisError(f"run_outcomes: run {runs[r]} has no step {step} (its steps: {steps[order[a]]}..{steps[order[b - 1]]})")
            at[r] = hits[0]
    kept = ["job"] if "job" in metrics.column_names else []
    rows = metrics.take(pa.array(at)).select(kept + ["run_id"] + names + ["step"])
    for column, how in _outcome_columns(metrics):
        values = metrics.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
        if how == "last":
            rows = rows.append_column(column, pa.array(values[at]))
        else:
            upto = values[order] * (steps[order] <= steps[at][run_index[order]])
            rows = rows.append_column(f"{column}_total", pa.array(np.add.reduceat(upto, starts) if len(starts) else upto[:0]))
    note = {**sweep_note(metrics), "per_run": True}
    return rows.replace_schema_metadata({SWEEP_KEY: json.dumps(note).encode()})


def _outcome_columns(metrics: pa.Table) -> list[tuple[str, str]]:
    columns = metrics.column_names
    chosen = [(name, how) for name, _, how in HEADLINE if name in columns]
    chosen += [(c, "last") for c in columns if c.startswith("cohesion_")]
    chosen += [(c, "last") for c in columns if c.endswith("_relation")]
    return chosen


def outcome_names(table: pa.Table) -> list[str]:
    """The outcome columns of a table from ``run_outcomes``, in order."""
    fixed = ["job", "run_id", "step", *parameters(table)]
    return [c for c in table.column_names if c not in fixed]


def summarise(
    table: pa.Table,
    by: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    *,
    step: int | None = None,
    confidence: float = 0.95,
) -> pa.Table:
    """Mean, sd, n and confidence interval of each headline outcome, per setting of ``by``.

    ``table``: a sweep's metrics (``load_sweep``), or the per-run table ``run_outcomes`` returns
    (to summarise at a step, or columns you added to it).  ``by``: the parameter columns to
    group on (default: the parameters that vary, except ``seed``; an empty list: one group of
    every run).  ``outcomes``: the outcome columns to summarise (default: all of them).
    ``step``: as in ``run_outcomes``.  Returns one row per setting and
    outcome: the ``by`` columns, ``outcome``, ``n``, ``mean``, ``sd`` (n - 1 in the
    denominator), ``ci_low``, ``ci_high`` (Student's t interval of the mean; NaN when n < 2).
    Runs whose outcome is NaN are not counted.
    """
    per_run = table if sweep_note(table).get("per_run") else run_outcomes(table, step)
    if by is None:
        by = [n for n in parameters(per_run, varied=True) if n != "seed"]
    missing = [c for c in by if c not in per_run.column_names]
    if missing:
        raise AnalysisError(f"summarise: no column {', '.join(missing)}; parameters here: {', '.join(parameters(per_run)) or 'none'}")
    names = list(outcomes) if outcomes is not None else outcome_names(per_run)
    unknown = [c for c in names if c not in per_run.column_names]
    if unknown:
        raise AnalysisError(f"summarise: no outcome {', '.join(unknown)}; allowed: {', '.join(outcome_names(per_run))}")
    keys = list(zip(*(per_run.column(c).to_pylist() for c in by))) if by else [()] * per_run.num_rows
    settings = sorted(set(keys), key=lambda k: tuple((v is None, v) for v in k))
    index = {k: i for i, k in enumerate(settings)}
    group = np.array([index[k] for k in keys], dtype=np.int64)
    rows: dict[str, list] = {c: [] for c in [*by, "outcome", "n", "mean", "sd", "ci_low", "ci_high"]}
    for g, setting in enumerate(settings):
        for name in names:
            values = per_run.column(name).to_numpy(zero_copy_only=False).astype(np.float64)[group == g]
            values = values[~np.isnan(values)]
            n, mean, sd, low, high = describe_sample(values, confidence)
            for column, value in zip(by, setting):
                rows[column].append(value)
            for column, value in zip(("outcome", "n", "mean", "sd", "ci_low", "ci_high"), (name, n, mean, sd, low, high)):
                rows[column].append(value)
    types = {c: per_run.schema.field(c).type for c in by}
    types = {c: (t.value_type if pa.types.is_dictionary(t) else t) for c, t in types.items()}
    arrays = {c: pa.array(v, types.get(c)) for c, v in rows.items()}
    arrays["n"] = pa.array(rows["n"], pa.int64())
    return pa.table(arrays)


def describe_sample(values: np.ndarray, confidence: float = 0.95) -> tuple[int, float, float, float, float]:
    """n, mean, sd (ddof 1), and the Student's t confidence interval of the mean (NaN when n < 2)."""
    n = len(values)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(np.mean(values))
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    sd = float(np.std(values, ddof=1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (0 < p < 1)."""
    from scipy.stats import t

    if not 0 < p < 1 or df <= 0:
        raise ValueError(f"t_quantile: need 0 < p < 1 and df > 0 (got p={p}, df={df})")
    return float(t.ppf(p, df))


def sweep_summary(sweep_dir: str | Path, by: Sequence[str] | None = None, step: int | None = None) -> str:
    """A sweep's headline outcomes per setting of its parameters, as text (``diplosim summary <sweep_dir>``)."""
    metrics = load_sweep(sweep_dir)
    note = sweep_note(metrics)
    per_run = run_outcomes(metrics, step)
    varied = parameters(per_run, varied=True)
    fixed = [n for n in parameters(per_run) if n not in varied]
    table = summarise(per_run, by=by)
    by = [c for c in table.column_names if c not in ("outcome", "n", "mean", "sd", "ci_low", "ci_high")]
    steps = sorted(set(per_run.column("step").to_pylist()))
    lines = [
        f"diplosim sweep {sweep_dir}: {note['jobs']} completed job(s), scenario {', '.join(note['scenarios'])}, "
        f"outcomes at step {', '.join(map(str, steps))}",
        "parameters varied: " + (", ".join(f"{n} ({len(set(per_run.column(n).to_pylist()))} values)" for n in varied) or "none"),
    ]
    if fixed:
        lines.append("fixed: " + ", ".join(f"{n}={per_run.column(n)[0].as_py()}" for n in fixed))
    if note["left_out"]:
        path, why = next(iter(note["left_out"].items()))
        lines.append(f"left out: {len(note['left_out'])} incomplete job(s), e.g. {Path(path).name}: {' '.join(why.split())}")
    lines.append("mean, sd and 95% confidence interval of the mean over the runs of each setting" + (f" (by {', '.join(by)})" if by else ""))
    labels = {name: label for name, label, _ in HEADLINE}
    labels.update({f"{name}_total": label for name, label, how in HEADLINE if how == "total"})
    rows = table.to_pylist()
    width = max([len(c) for c in by] + [len(str(r[c])) for r in rows for c in by] + [7])
    for outcome in dict.fromkeys(table.column("outcome").to_pylist()):
        label = labels.get(outcome) or (f"cohesion {outcome.removeprefix('cohesion_')}" if outcome.startswith("cohesion_")
                                        else f"relation {outcome.removesuffix('_relation')} (trust - tension)")
        lines += ["", label]
        lines.append("  " + "".join(f"{c:<{width}}  " for c in by) + f"{'n':>5}  {'mean':>12}  {'sd':>10}  95% CI")
        for r in (r for r in rows if r["outcome"] == outcome):
            ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if not math.isnan(r["ci_low"]) else "-"
            lines.append("  " + "".join(f"{str(r[c]):<{width}}  " for c in by)
                         + f"{r['n']:>5}  {r['mean']:>12.3f}  {r['sd']:>10.3f}  {ci}")
    return "\n".join(lines)


PROG = "diplosim summary"


def main(argv: list[str]) -> int:
    """``diplosim summary <run_dir | sweep_dir>``: a run's key metrics, or a sweep's outcomes per setting; exit status."""
    parser = OneLineParser(
        prog=PROG,
        description="Print a finished run's key metrics (first and last step) and events, or, for a sweep's "
        "directory, each headline outcome's mean, sd and 95% CI over the runs of each setting of the swept parameters.",
    )
    parser.add_argument("run_dir", type=Path, metavar="run_dir|sweep_dir",
                        help="a run's directory (holds metrics.parquet, ...) or a sweep's (holds multirun.yaml, 0/, 1/, ...)")
    parser.add_argument("--by", nargs="+", metavar="KEY", help="sweeps: the parameters to group on (default: those varied, but seed)")
    parser.add_argument("--step", type=int, help="sweeps: the step to read the outcomes at (default: each run's last)")
    try:
        args = parser.parse_args(argv)
        if is_sweep_dir(args.run_dir):
            text = sweep_summary(args.run_dir, by=args.by, step=args.step)
        else:
            if args.by is not None or args.step is not None:
                raise AnalysisError(f"{args.run_dir}: --by and --step apply to a sweep's directory, not a run's")
            run = read_run(args.run_dir, tables=("metrics", "events"))
            if run["metrics"].num_rows == 0:
                raise AnalysisError(f"{run.path / 'metrics.parquet'}: no rows")
            text = summary(run)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except (UsageError, AnalysisError) as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(text)
    return 0


__all__ = [
    "AnalysisError", "RunTables", "read_run", "summary", "main",
    "load_sweep", "run_outcomes", "summarise", "parameters", "sweep_note", "sweep_summary", "t_quantile",
]
