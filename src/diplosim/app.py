"""One run, end to end: scenario -> JAX core -> Parquet tables, plot and summary.

``run(cfg, out_dir)`` is what the Hydra app calls for each job; tests and
launchers call it directly with a composed config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from diplosim.config import Config
from diplosim.engine import Trajectory, run_spec, select_device, simulate
from diplosim.guard import NumericalError, first_problem
from diplosim.io import canonical_json, run_metadata, run_tables, write_tables
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import check_params, params_from
from diplosim.scenario import Scenario, load_scenario
from diplosim.sharding import devices_used


@dataclass
class RunResult:
    run_id: str
    out_dir: Path
    paths: dict[str, Path]
    scenario: Scenario
    trajectory: Trajectory | None  # None when the run had already finished in out_dir
    seconds: float
    events: pa.Table | None = None  # the events table as written (None: summary reads it from paths["events"])
    devices: int = 1  # devices the run computed on: more than one where engine.sharding = states split the world
    notes: tuple[str, ...] = ()  # what the run left out that the user may have expected (summary prints them)


def as_dict(cfg: DictConfig | dict) -> dict[str, Any]:
    """A plain, resolved dict of the config."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def run_id_of(config: dict[str, Any]) -> str:
    """A stable id: the hash of the resolved configuration (same config, same id)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:12]


# Settings of the machine, not of the experiment: where compiled programs are cached (by default
# under $HOME, so it differs between users) and whether a progress bar is drawn.  They change
# nothing a run computes, so they are kept out of the run id and the recorded configuration: the
# same experiment gives the same id and the same bytes on any machine.
MACHINE_SETTINGS = (("engine", "compile_cache"), ("engine", "progress"))


def recorded_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without ``MACHINE_SETTINGS``: what the run id hashes and the tables record (a new
    dict; the sections it leaves alone are ``config``'s own)."""
    recorded = dict(config)
    for section, key in MACHINE_SETTINGS:
        if isinstance(recorded.get(section), dict):
            recorded[section] = {k: v for k, v in recorded[section].items() if k != key}
    return recorded


def schema_at(path: str) -> Any:
    """The declared type of the config field at dotted ``path`` (a dataclass for a section), or None."""
    node: Any = Config
    for part in path.split(".") if path else []:
        if not dataclasses.is_dataclass(node):
            return None
        hints = typing.get_type_hints(node)
        if part not in hints:
            return None
        node = hints[part]
    return node


def allowed_keys(section: str) -> list[str]:
    """The keys the structured config declares under ``section`` ("" for the top level)."""
    node = schema_at(section)
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []


def _check_keys(values: dict[str, Any], section: str) -> None:
    """Raise ValueError for a key the schema does not declare (``+engine.turbo=1`` gets past
    Hydra) or one deleted from it (``~steps``)."""
    allowed = allowed_keys(section)
    for key, value in values.items():
        path = f"{section}.{key}" if section else key
        if key not in allowed:
            raise ValueError(f"{path}: unknown config key; allowed: {', '.join(allowed)}")
        if isinstance(value, dict) and dataclasses.is_dataclass(schema_at(path)) and path != "scenario":
            _check_keys(value, path)
    for key in allowed:
        if key not in values:
            path = f"{section}.{key}" if section else key
            raise ValueError(f"{path}: missing; every key of the structured config is required (remove the ~{path} override)")


F32_MAX = 3.4028234663852886e38


def check_config(config: dict[str, Any]) -> None:
    """Raise ValueError (one line: field, value, what is allowed) for a config no run can use.

    The scenario section is checked by ``diplosim.scenario`` and the coefficient ranges by
    ``diplosim.params.check_params``; this adds what neither sees.
    """
    _check_keys(config, "")
    for name, value in config["dynamics"].items():
        if isinstance(value, (int, float)) and not (math.isfinite(value) and abs(value) <= F32_MAX):
            raise ValueError(f"dynamics.{name} = {value}: must be a finite number (a 32-bit float)")
    if not -(2**63) <= config["seed"] < 2**63:
        raise ValueError(f"seed = {config['seed']}: must be a whole number in [-2**63, 2**63 - 1]")
    if config["steps"] < 0:
        raise ValueError(f"steps = {config['steps']}: must be >= 0")
    if config["output"]["every"] < 1:
        raise ValueError(f"output.every = {config['output']['every']}: must be >= 1")
    for section, key in (("engine", "chunk_steps"), ("engine", "event_log_capacity"), ("output", "max_dyads")):
        if config[section][key] < 0:
            raise ValueError(f"{section}.{key} = {config[section][key]}: must be >= 0")


def use_compile_cache(directory: str) -> None:
    """Keep compiled XLA programs on disk: a second run of the same shapes skips compilation."""
    if directory:
        jax.config.update("jax_compilation_cache_dir", str(Path(directory).expanduser()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)  # the small programs too: a load is ~10x faster


@dataclass
class Job:
    """A run ready to simulate: its checked configuration, scenario, parameters and run settings.

    ``prepare`` makes one; ``simulate_job`` runs it; ``simulate_jobs`` runs several that share a
    ``batch_key`` as one ``simulate_batch``; ``run`` writes the tables.
    """

    config: dict[str, Any]  # resolved
    recorded: dict[str, Any]  # without MACHINE_SETTINGS: what the run id hashes and the tables record
    run_id: str
    scenario: Scenario
    params: Any  # diplosim.params.Params (f32 scalars)
    spec: Any  # diplosim.engine.RunSpec
    device: Any  # jax.Device

    @functools.cached_property
    def batch_key(self) -> str:
        """What jobs must share to run as one ``simulate_batch``: everything but the seed and the
        dynamics coefficients (dynamic arrays), and the settings that act after the simulation
        (where the tables go, whether a plot is drawn) or not on it (progress bar, compile cache)."""
        shared = {key: value for key, value in self.recorded.items() if key not in ("seed", "dynamics")}
        if isinstance(shared.get("output"), dict):
            shared["output"] = {k: v for k, v in shared["output"].items() if k not in ("dir", "plot")}
        return canonical_json(shared)


def prepare(cfg: DictConfig | dict, *, scenario: Scenario | None = None) -> Job:
    """Check the configuration and build what a run needs, without simulating.

    ``scenario``: the scenario already loaded from this configuration (a launcher loads it once
    for many jobs).  Raises ValueError (one line) for a configuration no run can use.
    """
    config = as_dict(cfg)
    check_config(config)
    engine, output = config["engine"], config["output"]
    device = select_device(engine["device"])
    if scenario is None:  # a synthetic world too large for the device is refused before it is generated
        scenario = load_scenario(config["scenario"], agreement_slots=engine["agreement_slots"], device=device)
    params = params_from(config["dynamics"])
    check_params(params)
    recorded = recorded_config(config)
    spec = run_spec(
        engine["mechanisms"],
        every=output["every"],
        sample_states=output["states"],
        sample_dyads=output["dyads"] and scenario.world.n_dyads <= output["max_dyads"],
        event_capacity=engine["event_log_capacity"],
        guard=engine["guard"],
        sharding=engine["sharding"],
    )
    return Job(config, recorded, run_id_of(recorded), scenario, params, spec, device)


def simulate_job(job: Job) -> Trajectory:
    """Run one job's simulation (the JAX core) and return its history."""
    engine = job.config["engine"]
    use_compile_cache(engine["compile_cache"])
    with jax.default_device(job.device):
        world = calibrate_trade(jax.device_put(job.scenario.world, job.device), job.params)
        try:
            _, trajectory = simulate(
                world, job.params, jax.random.key(job.config["seed"]), job.config["steps"], job.spec,
                chunk_steps=engine["chunk_steps"], progress=engine["progress"],
            )
        except NumericalError as err:  # engine.guard=stop: name the agent as the scenario does
            raise err.named(job.scenario) from None
    return trajectory


def simulate_jobs(jobs: list[Job], progress: bool = False) -> list[Trajectory]:
    """Run jobs that share one ``batch_key`` as one ``simulate_batch`` call; their histories, in order.

    Each run gets its own trade calibration (it depends on the run's coefficients) and its own
    key, ``jax.random.key(seed)``, as ``simulate_job`` gives it, so each history equals the one
    ``simulate_job`` computes for the job.  Raises ``NumericalError`` (engine.guard=stop) without
    naming a run: run the jobs one by one to find it.
    """
    from diplosim.engine import simulate_batch
    from diplosim.params import stack_params

    first = jobs[0]
    if any(job.batch_key != first.batch_key for job in jobs):
        raise ValueError("simulate_jobs: the jobs differ in more than their seeds and dynamics coefficients")
    engine = first.config["engine"]
    use_compile_cache(engine["compile_cache"])
    with jax.default_device(first.device):
        world = jax.device_put(first.scenario.world, first.device)
        params = stack_params([job.params for job in jobs])
        worlds = _calibrate_runs(world, params)
        keys = jnp.stack([jax.random.key(job.config["seed"]) for job in jobs])
        _, batch = simulate_batch(
            worlds, params, keys, first.config["steps"], first.spec,
            chunk_steps=engine["chunk_steps"], progress=progress, world_batched=True,
        )
    return [_one_run(batch, r) for r in range(len(jobs))]


_calibrate_runs = jax.jit(jax.vmap(calibrate_trade, in_axes=(None, 0)))  # one world, R parameter sets: R calibrated worlds


def _one_run(batch: Trajectory, r: int) -> Trajectory:
    """Run ``r`` of a batched history (every array has a leading run axis)."""
    take = lambda tree: None if tree is None else jax.tree.map(lambda x: np.ascontiguousarray(x[r]), tree)  # noqa: E731
    return Trajectory(take(batch.metrics), take(batch.events), np.asarray(batch.sample_steps[r]),
                      take(batch.states), take(batch.dyads))


@dataclass
class Simulated:
    """A job simulated elsewhere (the batched launcher) and how long its share took (s)."""

    job: Job
    trajectory: Trajectory
    seconds: float


_simulated: dict[str, Simulated] = {}
_simulated_configs: dict[int, tuple[DictConfig, Simulated]] = {}


@contextlib.contextmanager
def simulated(results: dict[str, Simulated], config: DictConfig | None = None):
    """While open, ``run`` writes these results (by run id) instead of simulating those runs.

    The batched launcher simulates a group of jobs at once, then runs each job's ordinary Hydra
    task inside this context: the task's ``run`` finds its result here, so the tables, the plot,
    the summary and the Hydra records are written exactly as for a job run alone.  ``config``:
    the task's config object, given the (only) result; ``run`` called with that very object takes
    the job's resolved config from the result instead of resolving it again.
    """
    _simulated.update(results)
    if config is not None:
        (result,) = results.values()
        _simulated_configs[id(config)] = (config, result)
    try:
        yield
    finally:
        for run_id in results:
            _simulated.pop(run_id, None)
        if config is not None:
            _simulated_configs.pop(id(config), None)


def left_out(job: Job) -> tuple[str, ...]:
    """Tables the job's ``output`` settings asked for but its run does not write: the dyads of a world
    with more of them than ``output.max_dyads`` (``prepare`` samples none)."""
    output = job.config["output"]
    if output["dyads"] and not job.spec.sample_dyads:
        return (f"dyads.parquet not written: the world has {job.scenario.world.n_dyads} dyads, more than "
                f"output.max_dyads = {output['max_dyads']} (raise it to write them; output.every thins the steps written)",)
    return ()


def run(cfg: DictConfig | dict, out_dir: Path | str, *, overrides: dict[str, Any] | None = None) -> RunResult:
    """Run the configured scenario and write its tables (and plot) into ``out_dir``.

    ``overrides``: ``{column: value}`` written as constant columns into every table (after
    ``run_id``) and into the run record; the CLI passes ``diplosim.sweep.job_overrides``, so a
    sweep's tables read as one dataset.  A run already complete in ``out_dir`` (same run id) is
    not recomputed.
    """
    started = time.perf_counter()
    known = _simulated_configs.get(id(cfg))
    if known is not None and known[0] is cfg:  # the batched launcher's job: resolved when it was planned
        ready = known[1]
        config = ready.job.config
    else:
        config = as_dict(cfg)
        ready = _simulated.get(run_id_of(recorded_config(config))) if _simulated else None
    job = ready.job if ready is not None else prepare(config)
    out_dir = Path(out_dir)
    finished = completed_tables(out_dir, job.run_id)
    if finished is not None:  # the same run finished here before (a restarted sweep): nothing to redo
        if config["output"]["plot"] and not (out_dir / "metrics.png").exists():
            finished["plot"] = _plot(finished["metrics"], out_dir, job.scenario, config["seed"])
        return RunResult(job.run_id, out_dir, finished, job.scenario, None, time.perf_counter() - started,
                         notes=left_out(job))
    trajectory = ready.trajectory if ready is not None else simulate_job(job)
    devices = devices_used(job.spec.sharding, job.device.platform)  # the setting the engine ran with
    meta = run_metadata(run_id=job.run_id, scenario=job.scenario, config=job.recorded, seed=config["seed"],
                        backend=job.device.platform, overrides=overrides, devices=devices)
    tables = run_tables(job.scenario, trajectory, job.run_id, overrides)
    paths = write_tables(out_dir, tables, meta)
    if config["output"]["plot"]:
        paths["plot"] = _plot(paths["metrics"], out_dir, job.scenario, config["seed"])
    seconds = time.perf_counter() - started + (ready.seconds if ready is not None else 0.0)
    return RunResult(job.run_id, out_dir, paths, job.scenario, trajectory, seconds, tables["events"], devices,
                     notes=left_out(job))


def _plot(metrics_path: Path, out_dir: Path, scenario: Scenario, seed: int) -> Path:
    from diplosim.plot import plot_metrics

    return plot_metrics(pq.read_table(metrics_path), out_dir / "metrics.png", title=f"{scenario.name} (seed {seed})")


def completed_tables(out_dir: Path, run_id: str) -> dict[str, Path] | None:
    """The table paths of run ``run_id`` if it already finished in ``out_dir`` (every table whole), else None."""
    from diplosim.analysis import AnalysisError, read_run

    if not (out_dir / "events.parquet").exists():  # written last
        return None
    try:
        done = read_run(out_dir, tables=())
    except AnalysisError:
        return None
    if done.metadata.get("run_id") != run_id:
        return None
    return {name: out_dir / f"{name}.parquet" for name in ("metrics", "states", "dyads", "events")
            if (out_dir / f"{name}.parquet").exists()}


def story(events, limit: int = 20) -> list[str]:
    """The run's events in order, one line each (at most ``limit``), from the events table."""
    rows = events.slice(0, limit).to_pylist()
    lines = []
    for row in rows:
        what = f"{row['actor']} -> {row['target']}"
        if row["kind"] == "summit":
            what += f" on {row['issue']}; excluded: {', '.join(row['excluded']) or 'nobody'}"
        note = f"  ({row['name']})" if row["name"] else ""
        lines.append(f"  week {row['step']:>3}  {row['kind']:<20} {what}{note}")
    if events.num_rows > limit:
        lines.append(f"  ... and {events.num_rows - limit} more in events.parquet")
    return lines


def summary(result: RunResult) -> str:
    """Key metrics at the start and the end of the run, as a small text table."""
    if result.trajectory is None:
        return "\n".join([
            f"diplosim run {result.run_id}: scenario {result.scenario.name}: already complete in {result.out_dir} "
            "(nothing recomputed)",
            "what happened:", *story(pq.read_table(result.paths["events"])),
            *(f"note: {note}" for note in result.notes),
        ])
    m = result.trajectory.metrics
    rows = [("energy price (USD/bbl)", m["energy_price"]), ("armed conflict (sum)", m["conflict_total"]),
            ("polarisation", m["polarisation"]), ("total gdp (USD bn/yr)", m["gdp_total"]),
            ("mean approval", m["approval_mean"]), ("agreements in force", m["agreements_in_force"]),
            ("agreements signed so far", np.cumsum(m["agreements_signed"])),
            ("agreements violated so far", np.cumsum(m["agreements_violated"]))]
    rows += [(f"cohesion {b}", m["cohesion"][:, i]) for i, b in enumerate(result.scenario.blocs)]
    rows += [(f"relation {w} (trust - tension)", m["watch_relation"][:, i]) for i, w in enumerate(result.scenario.watch)]
    steps = np.asarray(m["step"])
    width = max(len(name) for name, _ in rows)
    lines = [
        f"diplosim run {result.run_id}: scenario {result.scenario.name}, {len(result.scenario.states)} states, "
        f"{steps[-1]} steps in {result.seconds:.1f} s"
        + (f" on {result.devices} devices (engine.sharding=states)" if result.devices > 1 else ""),
        f"{'metric':<{width}}  {'step ' + str(steps[0]):>12}  {'step ' + str(steps[-1]):>12}",
    ]
    lines += [f"{name:<{width}}  {float(v[0]):>12.3f}  {float(v[-1]):>12.3f}" for name, v in rows]
    events = result.events if result.events is not None else pq.read_table(result.paths["events"])
    lines += ["what happened:", *story(events)]
    lines.append(f"tables: {', '.join(str(p) for p in result.paths.values())}")
    lines += [f"note: {note}" for note in result.notes]
    problem = first_problem(m, result.scenario)  # engine.guard=flag: the first NaN or infinity met
    if problem:
        lines.append(f"warning: {problem} (engine.guard=flag: the run went on; see finite in metrics.parquet)")
    return "\n".join(lines)


__all__ = ["RunResult", "Job", "Simulated", "prepare", "simulate_job", "simulate_jobs", "simulated", "run", "summary", "run_id_of", "as_dict"]
