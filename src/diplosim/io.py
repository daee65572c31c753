"""Arrow tables of a run, written as Parquet files atomically.

Four tables, long (tidy) form, state names dictionary-encoded:
- ``metrics``: one row per step (row 0 is the initial world);
- ``states``: step x state, sampled every ``output.every`` steps;
- ``dyads``: step x directed dyad, sampled (optional for large worlds);
- ``events``: the scenario's scheduled events and the endogenous ones
  (sanctions imposed or lifted, conflicts starting or ending, agreements),
  each with the step during which it happened (the ``metrics`` row of that
  step + 1 shows its effect).

Every table carries ``run_id``, then the run's overrides as constant, typed
columns named by their config key (``seed``, ``dynamics.trade_relax``, ...;
see ``diplosim.sweep.job_overrides``) and, in its schema metadata under
``diplosim``, a JSON record of the run's configuration, seed, overrides,
package versions and JAX backend.  Files appear under their final name only
once complete.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from diplosim.engine import DYAD_SNAPSHOT, STATE_SNAPSHOT, Trajectory
from diplosim.mechanisms.metrics import ENDOGENOUS_EVENTS
from diplosim.scenario import Scenario
from diplosim.world import AGREEMENT_KINDS, CHANNELS, EVENT_KINDS, EVENT_ROLES

TABLES = ("metrics", "states", "dyads", "events")
METADATA_KEY = b"diplosim"
PACKAGES = ("diplosim", "jax", "jaxlib", "numpy", "pyarrow", "hydra-core", "omegaconf", "mesa")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on (a copy: looked up once a process,
    since each lookup scans the installed distributions, 6 ms a job in a sweep)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


_texts: dict[int, tuple[Any, str]] = {}  # id(section) -> (the section, kept alive; its canonical JSON)


def keep_json(section: dict) -> dict:
    """Hold ``section``'s canonical JSON text, so that ``canonical_json`` of anything that holds this
    very dict does not encode it again; ``section`` must not change afterwards.  The batched
    launcher shares one resolved scenario section (tens of kB) among a sweep's jobs: each job's
    run id, batch key and table record would encode it again."""
    _texts[id(section)] = (section, json.dumps(section, sort_keys=True, default=str))
    return section


def canonical_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, default=str)``, the text run ids hash and tables record,
    with the sections held by ``keep_json`` taken as they were encoded."""
    if not _texts:
        return json.dumps(value, sort_keys=True, default=str)
    return _encode(value)


def _encode(value: Any) -> str:
    if type(value) is dict:
        held = _texts.get(id(value))
        if held is not None and held[0] is value:
            return held[1]
        if all(type(key) is str for key in value):  # json.dumps's own order and separators
            return "{" + ", ".join(f"{json.dumps(key)}: {_encode(value[key])}" for key in sorted(value)) + "}"
    return json.dumps(value, sort_keys=True, default=str)


def run_metadata(
    *, run_id: str, scenario: Scenario, config: dict[str, Any], seed: int, backend: str,
    overrides: dict[str, Any] | None = None, devices: int = 1,
) -> dict:
    """What a reader needs to reproduce the run; ``overrides``: the columns ``run_tables`` added;
    ``devices``: how many devices of ``backend`` computed it (more than one: one world split across
    them, ``engine.sharding = states``, whose float sums are added in another order)."""
    return {
        "run_id": run_id,
        "scenario": scenario.name,
        "scenario_source": scenario.source,
        "seed": seed,
        "config": config,
        "overrides": dict(overrides or {}),
        "versions": package_versions(),
        "jax_backend": backend,
        "jax_devices": devices,
    }


def _names(labels: tuple[str, ...], index: np.ndarray) -> pa.DictionaryArray:
    """Dictionary-encoded names for integer indices (-1 gives null)."""
    index = np.asarray(index, np.int32)
    mask = index < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, index), pa.int32(), mask=mask), pa.array(list(labels), pa.string())
    )


def _run_column(run_id: str, rows: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([run_id]))


def metrics_table(scenario: Scenario, traj: Trajectory, run_id: str) -> pa.Table:
    """One row per step; per-bloc and per-watched-dyad metrics as named columns."""
    m = traj.metrics
    rows = len(m["step"])
    columns: dict[str, Any] = {"run_id": _run_column(run_id, rows), "step": np.asarray(m["step"], np.int32)}
    for name, values in m.items():
        values = np.asarray(values)
        if name == "step":
            continue
        if name == "cohesion":
            columns.update({f"cohesion_{bloc}": values[:, b] for b, bloc in enumerate(scenario.blocs)})
        elif name.startswith("watch_"):
            what = name.removeprefix("watch_")
            columns.update({f"{watch}_{what}": values[:, w] for w, watch in enumerate(scenario.watch)})
        elif name == "nonfinite_field":  # engine.guard = flag: the field's name, not its index
            from diplosim.guard import FIELD_NAMES

            columns[name] = _names(FIELD_NAMES, values)
        else:
            columns[name] = values
    return pa.table(columns)


def states_table(scenario: Scenario, traj: Trajectory, run_id: str) -> pa.Table:
    """step x state rows of the sampled state fields."""
    samples, n = len(traj.sample_steps), len(scenario.states)
    index = np.tile(np.arange(n, dtype=np.int32), samples)
    bloc = np.tile(np.asarray(scenario.world.states.bloc), samples)
    columns: dict[str, Any] = {
        "run_id": _run_column(run_id, samples * n),
        "step": np.repeat(traj.sample_steps.astype(np.int32), n),
        "state": _names(scenario.states, index),
        "bloc": _names(scenario.blocs, bloc),
    }
    columns.update({f: np.asarray(traj.states[f]).reshape(-1) for f in STATE_SNAPSHOT})
    return pa.table(columns)


def dyads_table(scenario: Scenario, traj: Trajectory, run_id: str) -> pa.Table:
    """step x directed-dyad rows of the sampled dyad fields."""
    samples = len(traj.sample_steps)
    d = scenario.world.dyads
    e = len(np.asarray(d.src))
    columns: dict[str, Any] = {
        "run_id": _run_column(run_id, samples * e),
        "step": np.repeat(traj.sample_steps.astype(np.int32), e),
        "src": _names(scenario.states, np.tile(np.asarray(d.src), samples)),
        "dst": _names(scenario.states, np.tile(np.asarray(d.dst), samples)),
    }
    columns.update({f: np.asarray(traj.dyads[f]).reshape(-1) for f in DYAD_SNAPSHOT})
    return pa.table(columns)


EVENT_SCHEMA = pa.schema(
    [
        ("run_id", pa.dictionary(pa.int32(), pa.string())),
        ("step", pa.int32()),
        ("origin", pa.string()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("actor", pa.dictionary(pa.int32(), pa.string())),
        ("target", pa.dictionary(pa.int32(), pa.string())),
        ("issue", pa.string()),
        ("magnitude", pa.float32()),
        ("participants", pa.list_(pa.string())),
        ("excluded", pa.list_(pa.string())),
    ]
)


def _scheduled_rows(scenario: Scenario) -> dict[str, list]:
    ev = scenario.world.events
    kind, step = np.asarray(ev.kind), np.asarray(ev.step)
    member_event, member_state, member_role = (np.asarray(x) for x in (ev.member_event, ev.member_state, ev.member_role))

    def members(v: int, role: str) -> list[str]:
        chosen = (member_event == v) & (member_role == EVENT_ROLES.index(role))
        return [scenario.states[i] for i in member_state[chosen]]

    summit = [EVENT_KINDS[k] == "summit" for k in kind]
    return {
        "step": step.tolist(),
        "origin": ["scheduled"] * len(step),
        "kind": [EVENT_KINDS[k] for k in kind],
        "name": list(scenario.events),
        "actor": np.asarray(ev.actor).tolist(),
        "target": np.asarray(ev.target).tolist(),
        "issue": [scenario.issues[i] if s else None for i, s in zip(np.asarray(ev.issue), summit)],
        "magnitude": np.asarray(ev.magnitude).tolist(),
        "participants": [members(v, "participant") if s else None for v, s in enumerate(summit)],
        "excluded": [members(v, "excluded") if s else None for v, s in enumerate(summit)],
    }


def agreement_label(detail: int) -> str:
    """'ceasefire (proxy)' from an event's detail code (kind * len(CHANNELS) + channel)."""
    kind, channel = divmod(detail, len(CHANNELS))
    return f"{AGREEMENT_KINDS[kind]} ({CHANNELS[channel]})"


def _endogenous_rows(scenario: Scenario, traj: Trajectory) -> dict[str, list]:
    if not traj.events:
        return {field.name: [] for field in EVENT_SCHEMA if field.name != "run_id"}
    kind = np.asarray(traj.events["kind"])
    # the step during which it happened (the world at row s is the one after step s - 1)
    steps = np.broadcast_to(np.asarray(traj.metrics["step"])[1:, None] - 1, kind.shape)
    keep = kind >= 0
    kind, steps = kind[keep], steps[keep]
    actor, target = np.asarray(traj.events["actor"])[keep], np.asarray(traj.events["target"])[keep]
    detail = np.asarray(traj.events["detail"])[keep]
    n = len(kind)
    return {
        "step": steps.tolist(),
        "origin": ["endogenous"] * n,
        "kind": [ENDOGENOUS_EVENTS[k] for k in kind],
        "name": [agreement_label(int(x)) if x >= 0 else None for x in detail],
        "actor": actor.tolist(),
        "target": target.tolist(),
        "issue": [None] * n,
        "magnitude": [None] * n,
        "participants": [None] * n,
        "excluded": [None] * n,
    }


def events_table(scenario: Scenario, traj: Trajectory, run_id: str) -> pa.Table:
    """Scheduled and endogenous events, one row each, ordered by step."""
    rows = _scheduled_rows(scenario)
    for key, values in _endogenous_rows(scenario, traj).items():
        rows[key] = rows[key] + values
    n = len(rows["step"])
    order = np.argsort(np.asarray(rows["step"], np.int64), kind="stable")
    columns = {
        "run_id": _run_column(run_id, n),
        "step": pa.array(np.asarray(rows["step"], np.int32)[order]),
        "actor": _names(scenario.states, np.asarray(rows["actor"], np.int32)[order] if n else np.zeros(0, np.int32)),
        "target": _names(scenario.states, np.asarray(rows["target"], np.int32)[order] if n else np.zeros(0, np.int32)),
    }
    for key in ("origin", "kind", "name", "issue", "magnitude", "participants", "excluded"):
        columns[key] = pa.array([rows[key][i] for i in order], EVENT_SCHEMA.field(key).type)
    return pa.table({f.name: columns[f.name] for f in EVENT_SCHEMA}, schema=EVENT_SCHEMA)


def constant_column(value: Any, rows: int) -> pa.Array:
    """``rows`` copies of ``value``, typed: bool, int64, float64, string (dictionary-encoded) or null."""
    if value is None:
        return pa.nulls(rows)
    if isinstance(value, (bool, np.bool_)):
        return pa.array(np.full(rows, bool(value)))
    if isinstance(value, (int, np.integer)):
        return pa.array(np.full(rows, value, np.int64))
    if isinstance(value, (float, np.floating)):
        return pa.array(np.full(rows, value, np.float64))
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([str(value)]))


def with_overrides(table: pa.Table, overrides: dict[str, Any]) -> pa.Table:
    """``table`` with one constant column per override, right after ``run_id``."""
    for i, (name, value) in enumerate(overrides.items()):
        if name in table.column_names:
            raise ValueError(f"override {name}: a column of that name is already in the table")
        table = table.add_column(1 + i, name, constant_column(value, table.num_rows))
    return table


def run_tables(scenario: Scenario, traj: Trajectory, run_id: str, overrides: dict[str, Any] | None = None) -> dict[str, pa.Table]:
    """The run's tables; ``states`` and ``dyads`` only where they were sampled.

    ``overrides`` (``{column: value}``, see ``diplosim.sweep.job_overrides``) become constant
    columns of every table, after ``run_id``, so the tables of a sweep's jobs read as one dataset.
    """
    tables = {"metrics": metrics_table(scenario, traj, run_id)}
    if traj.states is not None:
        tables["states"] = states_table(scenario, traj, run_id)
    if traj.dyads is not None:
        tables["dyads"] = dyads_table(scenario, traj, run_id)
    tables["events"] = events_table(scenario, traj, run_id)
    if overrides:
        tables = {name: with_overrides(table, overrides) for name, table in tables.items()}
    return tables


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename to ``path``: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tables(out_dir: Path, tables: dict[str, pa.Table], meta: dict) -> dict[str, Path]:
    """Write each table as ``<out_dir>/<name>.parquet`` with ``meta`` in its schema metadata.

    Only text columns are dictionary-encoded: a dictionary of float columns costs time to build
    and is dropped by the writer anyway once it outgrows its page (the floats are all distinct).
    """
    encoded = canonical_json(meta).encode()

    def write(name: str, table: pa.Table) -> Path:
        table = table.replace_schema_metadata({METADATA_KEY: encoded})
        text = [f.name for f in table.schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
                or pa.types.is_large_string(f.type)]
        return atomic_write(Path(out_dir) / f"{name}.parquet", lambda tmp: pq.write_table(table, tmp, use_dictionary=text))

    # the last table marks the run complete (completed_tables), so it is written after the others,
    # which are written side by side: Parquet encoding and the file writes release the GIL
    *others, (last, last_table) = tables.items()
    futures = {name: _writers().submit(write, name, table) for name, table in others}
    concurrent.futures.wait(futures.values())  # all of them, even if one failed: nothing still writing after
    paths = {name: future.result() for name, future in futures.items()}
    paths[last] = write(last, last_table)
    return paths


@functools.cache
def _writers() -> concurrent.futures.ThreadPoolExecutor:
    """The threads ``write_tables`` writes with, started once a process (a sweep writes thousands of runs)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix="diplosim-write")


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: it starts its own pool
    os.register_at_fork(after_in_child=_writers.cache_clear)


def read_metadata(path: Path) -> dict:
    """The run record stored in a diplosim Parquet file."""
    footer = pq.read_metadata(path)  # its key-value metadata holds the schema's
    return json.loads(footer.metadata[METADATA_KEY])
