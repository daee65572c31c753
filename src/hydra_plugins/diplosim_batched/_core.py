"""The batched launcher's work: compose every job, plan the groups, simulate, write each job through ``run_job``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from diplosim.app import Job, Simulated, completed_tables, prepare, simulate_jobs, simulated
from diplosim.guard import NumericalError
from diplosim.io import canonical_json, keep_json

from . import _writers
from ._records import run_job_sharing
from ._templates import is_shared, once_per_section, set_hydra_config

log = logging.getLogger(__name__)

MAX_BATCH = 4096  # the automatic batch size never exceeds this many runs per call
# Jobs are composed, simulated and written this many at a time (or batch_size, if larger): a job's
# composed config (about 1 MB with the Alaska scenario) and history are held until it is written.
WINDOW = 256


@dataclass
class Planned:
    """One job of the sweep: its number, overrides and composed config, and, when it is to be
    simulated in a group, its prepared run (else ``job`` is None and ``reason`` says why)."""

    idx: int
    overrides: list[str]
    config: DictConfig
    job: Job | None = None
    reason: str = ""  # "" (simulated in a group) | "complete" | "error" | "sharded"
    job_dir: str | None = None  # the job's directory (hydra.sweep.dir/subdir), once worked out


def launch(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run the jobs, ``WINDOW`` (or ``batch_size``) at a time; their ``JobReturn``s in order."""
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    scenarios: dict[str, Any] = {}
    window = max(WINDOW, launcher.batch_size)
    returns = []
    for start in range(0, len(job_overrides), window):
        jobs = [(initial_job_idx + start + i, list(o)) for i, o in enumerate(job_overrides[start:start + window])]
        returns += _launch_window(launcher, jobs, scenarios)
    return returns


def _launch_window(launcher, jobs: list[tuple[int, list[str]]], scenarios: dict[str, Any]) -> list[JobReturn]:
    planned = [_plan(launcher, idx, overrides, scenarios) for idx, overrides in jobs]
    groups: dict[str, list[Planned]] = {}
    for p in planned:
        if p.job is not None:
            groups.setdefault(p.job.batch_key, []).append(p)
    _log_plan(planned, groups)
    returns: dict[int, JobReturn] = {}
    for p in planned:  # a configuration error stops the sweep before anything is computed
        if p.reason == "error":
            returns[p.idx] = _run(launcher, p, None)
    for number, group in enumerate(groups.values(), start=1):
        _run_group(launcher, group, number, len(groups), returns)
    for p in planned:  # complete already (nothing is recomputed) or sharded (one by one)
        if p.idx not in returns:
            returns[p.idx] = _run(launcher, p, None)
    return [returns[p.idx] for p in planned]


def _log_plan(planned: list[Planned], groups: dict[str, list[Planned]]) -> None:
    others = {reason: sum(p.reason == reason for p in planned) for reason in ("complete", "error", "sharded")}
    extra = ", ".join(f"{n} {reason}" for reason, n in others.items() if n)
    log.info(f"Batched launcher: {len(planned)} jobs, {sum(len(g) for g in groups.values())} to simulate in "
             f"{len(groups)} group(s)" + (f" ({extra})" if extra else ""))
    for p in planned:
        log.info(f"\t#{p.idx} : {' '.join(filter_overrides(p.overrides))}")


# --- composing and preparing each job --------------------------------------------------------------


def _plan(launcher, idx: int, overrides: list[str], scenarios: dict[str, Any]) -> Planned:
    sweep_config = launcher.hydra_context.config_loader.job_config(launcher.config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = idx
        sweep_config.hydra.job.num = idx
    planned = Planned(idx, overrides, sweep_config)
    saved = HydraConfig.instance().cfg
    try:
        task, out_dir, planned.job_dir = _resolve(sweep_config)
        key = canonical_json({"scenario": task["scenario"], "slots": task["engine"]["agreement_slots"]})
        job = prepare(task, scenario=scenarios.get(key))
        scenarios[key] = job.scenario
    except Exception:  # noqa: BLE001 - the job's own task reports it, as it would alone
        planned.reason = "error"
        return planned
    finally:
        HydraConfig.instance().cfg = saved
    if completed_tables(out_dir, job.run_id) is not None:
        planned.reason = "complete"
    elif task["engine"].get("sharding", "off") != "off":
        planned.reason = "sharded"
    else:
        planned.job = job
    return planned


_resolved: dict[int, tuple[Any, Any]] = {}  # id(shared section) -> (the section, kept alive; its plain values)


def _resolve(sweep_config: DictConfig) -> tuple[dict, Path, str]:
    """The job's task config, resolved as it will be inside ``run_job`` (Hydra's config of the job
    set, its output directory known), the directory its tables go to and the job's directory."""
    set_hydra_config(sweep_config)  # Hydra's config is the job's own section: it sees the output directory set below
    job_dir = os.path.join(str(OmegaConf.select(sweep_config, "hydra.sweep.dir")),
                           str(OmegaConf.select(sweep_config, "hydra.sweep.subdir")))
    with read_write(sweep_config.hydra.runtime), open_dict(sweep_config.hydra.runtime):
        sweep_config.hydra.runtime.output_dir = os.path.abspath(job_dir)
    task = {}
    for key in sweep_config:
        if key == "hydra":
            continue
        value = sweep_config[key]
        if not isinstance(value, DictConfig | ListConfig):
            task[key] = value
        elif is_shared(sweep_config, value):  # with the template, and without interpolations: resolved once,
            # and the jobs share the plain section (read only; its JSON text kept for their run ids and records)
            task[key] = once_per_section(_resolved, value, lambda v: keep_json(OmegaConf.to_container(v, resolve=True)))
        else:
            task[key] = OmegaConf.to_container(value, resolve=True)
    out_dir = task["output"]["dir"] or os.path.abspath(job_dir)
    return task, Path(out_dir), job_dir


# --- running the groups ----------------------------------------------------------------------------


def _run_group(launcher, group: list[Planned], number: int, total: int, returns: dict[int, JobReturn]) -> None:
    first = group[0].job
    size = launcher.batch_size or auto_batch_size(first, launcher.memory_fraction)
    progress = bool(first.config["engine"]["progress"])
    desc = f"group {number}/{total} ({first.scenario.name}, {first.config['steps']} steps)"
    bar = _bar(len(group), desc, progress)
    start = 0
    while start < len(group):
        chunk = group[start:start + size]
        started = time.perf_counter()
        try:
            trajectories = simulate_jobs(padded([p.job for p in chunk], size), progress=progress)[:len(chunk)]
        except NumericalError:  # engine.guard=stop: one by one, so the error names its run
            trajectories = [None] * len(chunk)
        except jax.errors.JaxRuntimeError as err:
            if "RESOURCE_EXHAUSTED" not in str(err) or size == 1:
                raise
            size = max(1, size // 2)  # out of device memory: the same runs in smaller calls
            log.warning(f"{desc}: out of memory with {len(chunk)} runs per call; trying {size}")
            continue
        share = (time.perf_counter() - started) / len(chunk)
        items = [(p, None if trajectory is None else Simulated(p.job, trajectory, share))
                 for p, trajectory in zip(chunk, trajectories)]
        # jobs without a result simulate in their task, which only this process may do (a child runs no JAX)
        writers = 1 if any(t is None for t in trajectories) else launcher.writers or _writers.auto_writers(len(items))
        # each job configures its own logging: the launcher's is restored once, after the call's jobs
        returns.update(_writers.write_jobs(items, lambda item: _run(launcher, *item, restore_log=False), writers,
                                           key=lambda item: item[0].idx, overrides=lambda item: item[0].overrides))
        configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
        if bar is not None:
            bar.update(len(chunk))
        start += len(chunk)
    if bar is not None:
        bar.close()


def padded(jobs: list[Job], size: int) -> list[Job]:
    """``jobs`` made up to a power of two (at most ``size``) with copies of the last one: each
    call size compiles its own program, and a few sizes serve every sweep."""
    bucket = min(size, 1 << (len(jobs) - 1).bit_length())
    return jobs + [jobs[-1]] * (bucket - len(jobs))


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="job")


def _run(launcher, p: Planned, result: Simulated | None, restore_log: bool = True) -> JobReturn:
    """The job through Hydra's ``run_job`` and its own task; ``result``: its simulation, done (then
    through ``run_job_sharing``, which writes the same and shares the sections its config shares
    with its template).  ``restore_log``: configure the launcher's logging again afterwards, as
    Hydra's basic launcher does after every job (not needed between jobs that each configure
    their own: the next job's logging replaces this one's, closing its log file)."""
    if result is None:
        ret = run_job(
            hydra_context=launcher.hydra_context,
            task_function=launcher.task_function,
            config=p.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    else:
        ret = run_job_sharing(launcher.hydra_context, launcher.task_function, p.config,
                              around_task=lambda task_cfg: simulated({p.job.run_id: result}, config=task_cfg),
                              output_dir=p.job_dir)
    if restore_log:
        configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    return ret


# --- how many runs per call --------------------------------------------------------------------------


def auto_batch_size(job: Job, memory_fraction: float) -> int:
    """Runs per ``simulate_batch`` call that fit in ``memory_fraction`` of the free memory.

    A run needs about eight copies of its world (the calibrated world, the scan's carry and the
    step's temporaries) and its history (metrics every step, sampled states and dyads, the event
    log), on the device and again on the host.
    """
    per_run = run_bytes(job)
    free = free_memory(job.device)
    return int(max(1, min(MAX_BATCH, free * memory_fraction // per_run)))


def run_bytes(job: Job) -> int:
    import jax

    from diplosim.engine import DYAD_SNAPSHOT, STATE_SNAPSHOT
    from diplosim.mechanisms.metrics import metrics

    world = job.scenario.world
    world_bytes = sum(np.asarray(x).nbytes for x in jax.tree.leaves(world))
    metric_bytes = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(jax.eval_shape(metrics, world)))
    steps, spec = job.config["steps"], job.spec
    samples = steps // spec.every + 2
    snapshot = (world.n_states * len(STATE_SNAPSHOT) if spec.sample_states else 0) + (
        world.n_dyads * len(DYAD_SNAPSHOT) if spec.sample_dyads else 0)
    history = (steps + 1) * metric_bytes + samples * snapshot * 4 + steps * spec.event_capacity * 5 * 4
    return 8 * world_bytes + history


def free_memory(device) -> int:
    """Free bytes: the host's available memory, and the device's where it is not the host."""
    host = _host_available()
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return min(host, stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return host


def _host_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**31
