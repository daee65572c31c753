"""Reading a run back for analysis: ``read_run(run_dir)`` and ``diplosim summary <run_dir>``.

>>> run = read_run("outputs/runs/2025-08-15/12-00-00_alaska_2025")   # doctest: +SKIP
>>> run["metrics"].num_rows, run.metadata["seed"]                     # doctest: +SKIP

A run directory holds ``metrics.parquet`` and ``events.parquet`` and, when they were sampled,
``states.parquet`` and ``dyads.parquet`` (see ``diplosim.io``).  Each file appears under its
final name only once complete, and ``events.parquet`` is written last, so a run that was stopped
part-way lacks it.  Every problem is one ``AnalysisError`` line naming the file.  Temporary files
(``.<name>.<random>.tmp``) are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
    records = {name: _record(run_dir / f"{name}.parquet") for name in present}
    _check_one_complete_run(run_dir, records)
    loaded = {name: _read_table(run_dir / f"{name}.parquet") for name in present if name in wanted}
    return RunTables(run_dir, loaded, records[present[0]])


def _run_directory(path: Path) -> Path:
    if path.is_file() and path.suffix == ".parquet" and path.stem in TABLES:
        return path.parent
    if not path.exists():
        raise AnalysisError(f"{path}: no such run directory")
    if not path.is_dir():
        raise AnalysisError(f"{path}: not a run directory (give the directory that holds metrics.parquet)")
    return path


def _record(path: Path) -> dict:
    """The run record in the footer of ``path``: reads the footer only, so it checks it cheaply."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as err:
        raise AnalysisError(f"{path}: not a complete Parquet file ({_first_line(err)}); rerun the command that wrote it") from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise AnalysisError(f"{path}: not a diplosim table (no 'diplosim' record in its schema metadata)")
    try:
        record = json.loads(raw)
    except ValueError:
        raise AnalysisError(f"{path}: its 'diplosim' schema metadata is not valid JSON") from None
    if not isinstance(record, dict) or "run_id" not in record:
        raise AnalysisError(f"{path}: its 'diplosim' schema metadata has no run_id")
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


class _UsageError(Exception):
    """A bad command line; argparse's message, kept to one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage and exit; we report one line
        raise _UsageError(message)


PROG = "diplosim summary"


def main(argv: list[str]) -> int:
    """``diplosim summary <run_dir>``: the run's key metrics from its files; exit status."""
    parser = _Parser(prog=PROG, description="Print a finished run's key metrics (first and last step) and events.")
    parser.add_argument("run_dir", type=Path, help="the run's directory (holds metrics.parquet, events.parquet, ...)")
    try:
        args = parser.parse_args(argv)
        run = read_run(args.run_dir, tables=("metrics", "events"))
        if run["metrics"].num_rows == 0:
            raise AnalysisError(f"{run.path / 'metrics.parquet'}: no rows")
        text = summary(run)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except (_UsageError, AnalysisError) as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(text)
    return 0


__all__ = ["AnalysisError", "RunTables", "read_run", "summary", "main"]
