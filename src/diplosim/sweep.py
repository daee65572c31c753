"""Sweeps (Hydra multirun): the job's overrides as columns, the sweep directory, the sweep dataset.

- ``job_overrides(cfg, hydra_cfg)``: what a job's tables carry as columns: ``seed`` and each
  override of the job's command line, named by its config key (``dynamics.trade_relax``,
  ``steps``, ``scenario`` for a group choice), typed as the structured config declares it.
- ``sweep_name``: the default sweep directory's name, ``<scenario>-<hash>``, the same for the
  same command line, so a sweep killed part-way and started again with the same command goes
  on in the same directory (registered as the OmegaConf resolver ``diplosim.sweep_name``).
- ``sync_dataset(sweep_dir)``: the sweep's completed jobs as one hive-partitioned Parquet dataset,
  ``<sweep_dir>/dataset/<table>/job=<n>/part-0.parquet`` (hard links to the job's own files, so
  it costs no space); ``SweepDataset`` is the Hydra callback that builds it at the end of every
  multirun, whatever the launcher.

This module imports neither JAX nor the model: Hydra loads the callback in every process.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

log = logging.getLogger(__name__)

TABLES = ("metrics", "states", "dyads", "events")
DATASET = "dataset"  # <sweep_dir>/dataset/<table>/job=<n>/part-0.parquet
PART = "part-0.parquet"
# Settings of the machine, not of the experiment (as diplosim.app.MACHINE_SETTINGS): they change
# nothing a run computes, so they are neither columns nor part of the sweep directory's name.
MACHINE_KEYS = ("engine.compile_cache", "engine.progress")


# --- the job's overrides as columns ---------------------------------------------------------------


def job_overrides(cfg: DictConfig, hydra_cfg: DictConfig | None) -> dict[str, Any]:
    """``{column: value}``: ``seed``, then each of the job's overrides in command-line order.

    The column is the override's key (``dynamics.trade_relax``); the value is the job's resolved
    config value there, so it has the structured config's type (``dynamics.trade_relax=1`` gives
    the float 1.0).  A config-group choice (``scenario=synthetic``) gives the option's name; a
    list or mapping its JSON text.  Deletions (``~key``) and the machine settings
    (``engine.progress``, ``engine.compile_cache``) give no column.  ``hydra_cfg`` is Hydra's
    config of the job (``HydraConfig.get()``); None (a run from Python): ``seed`` only.
    """
    # a value that does not resolve is left to the run, which reports it (field and reason)
    values: dict[str, Any] = {"seed": OmegaConf.select(cfg, "seed", throw_on_resolution_failure=False)}
    if hydra_cfg is None:
        return values
    task = _raw(OmegaConf.select(hydra_cfg, "overrides.task", default=None))
    choices = OmegaConf.select(hydra_cfg, "runtime.choices", default={}) or {}
    for key in _column_keys(tuple(task)):
        node = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        if isinstance(node, (DictConfig, ListConfig)):
            choice = choices.get(key) if key in choices else None
            value = choice if choice is not None else json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True)
        else:
            value = node
        values[key] = value
    return values


def _column_keys(task: tuple[str, ...]) -> list[str]:
    """The keys of the overrides ``task`` that become columns, in order."""
    keys = []
    for override in task:
        key, deleted = _parsed(override)
        if not (deleted or key in MACHINE_KEYS or key.startswith("hydra.")):
            keys.append(key)
    return keys


@functools.lru_cache(maxsize=4096)
def _parsed(override: str) -> tuple[str, bool]:
    """(key, is a deletion) of one override, by Hydra's parser (an ANTLR grammar, about 0.2 ms an
    override): parsed once each, as a sweep's jobs repeat most of their overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    (parsed,) = OverridesParser.create().parse_overrides([override])
    return parsed.key_or_group, parsed.is_delete()


# --- the sweep directory --------------------------------------------------------------------------


def sweep_name(config_name: Any, scenario: Any, overrides: Any) -> str:
    """``<scenario>-<12 hex digits>``: a hash of the config name and the command line's overrides.

    The same command gives the same name; Hydra's own overrides (``hydra/launcher=batched``,
    ``hydra.sweep.dir=...``) and the machine settings (``engine.progress``,
    ``engine.compile_cache``) are not part of it, so a sweep can be resumed with another launcher
    or without its progress bars.  The order of the overrides counts (it orders the jobs).  A
    sweep over scenarios is named ``scenarios-<hash>``.
    """
    task = _raw(overrides)
    kept = [o for o in task if _override_key(o) not in MACHINE_KEYS]
    digest = hashlib.sha256(json.dumps([str(config_name), kept]).encode()).hexdigest()[:12]
    prefix = "scenarios" if any(_override_key(o) == "scenario" and "," in o for o in kept) else str(scenario)
    return f"{_safe(prefix)}-{digest}"


def _raw(overrides: Any) -> list[str]:
    """Override strings as typed: ``steps=${oc.env:X}`` is text here, never resolved."""
    if isinstance(overrides, ListConfig):
        overrides = OmegaConf.to_container(overrides, resolve=False)
    return [str(o) for o in overrides or []]


def _override_key(override: str) -> str:
    """``dynamics.x`` from ``dynamics.x=1``, ``+dynamics.x=1``, ``~dynamics.x``."""
    return override.lstrip("+~").split("=", 1)[0].split("@", 1)[0]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "sweep"


def register_resolvers() -> None:
    """Register ``${diplosim.sweep_name:...}`` (idempotent).

    Cached: Hydra copies the sweep's resolver cache into every job's config, so each job resolves
    ``hydra.sweep.dir`` to the sweep's directory, not to one named after its own overrides.
    """
    if not OmegaConf.has_resolver("diplosim.sweep_name"):
        OmegaConf.register_new_resolver("diplosim.sweep_name", sweep_name, use_cache=True)


# --- the sweep dataset ----------------------------------------------------------------------------


@dataclass
class SweepJobs:
    """What ``sync_dataset`` found: the completed jobs by number, and the directories it left out (and why)."""

    sweep_dir: Path
    complete: dict[int, Path] = field(default_factory=dict)
    incomplete: dict[Path, str] = field(default_factory=dict)
    tables: tuple[str, ...] = ()

    @property
    def dataset(self) -> Path:
        return self.sweep_dir / DATASET


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job directories: those holding Hydra's ``.hydra/`` record or a table."""
    found = []
    for path in sorted(Path(sweep_dir).iterdir()) if Path(sweep_dir).is_dir() else []:
        if path.name == DATASET or path.name.startswith(".") or not path.is_dir():
            continue
        if (path / ".hydra").is_dir() or any((path / f"{t}.parquet").exists() for t in TABLES):
            found.append(path)
    return found


def job_number(job_dir: Path) -> int | None:
    """Hydra's job number of ``job_dir``: its name (the default subdir), else ``.hydra/hydra.yaml``."""
    if job_dir.name.isdigit():
        return int(job_dir.name)
    record = job_dir / ".hydra" / "hydra.yaml"
    try:
        num = OmegaConf.select(OmegaConf.load(record), "hydra.job.num")
        return int(num)
    except Exception:  # noqa: BLE001 - no record, or not Hydra's: not a job we can place
        return None


def sync_dataset(sweep_dir: str | Path, progress: bool = True) -> SweepJobs:
    """Bring ``<sweep_dir>/dataset`` up to date with the sweep's completed jobs; what was found.

    A job enters the dataset once its tables are complete and from one run (checked as
    ``diplosim.analysis.read_run`` does); a partition whose job is gone or incomplete is removed.
    Each file enters under its final name only when whole (a hard link, or a copy where the file
    system has none), so a reader never sees part of a file.  Files already in place (same size
    and modification time as the job's) are not checked again: a second call costs a few ``stat``.
    """
    from diplosim.analysis import AnalysisError, read_run

    sweep_dir = Path(sweep_dir)
    found = SweepJobs(sweep_dir)
    dirs = job_dirs(sweep_dir)
    bar = _bar(len(dirs), progress and len(dirs) >= 200, "sweep dataset")
    wanted: dict[str, dict[int, Path]] = {t: {} for t in TABLES}
    numbers = {job_dir: job_number(job_dir) for job_dir in dirs}
    present = {job_dir: {t: job_dir / f"{t}.parquet" for t in TABLES if (job_dir / f"{t}.parquet").is_file()}
               for job_dir, num in numbers.items() if num is not None}

    def problem(job_dir: Path) -> str | None:
        num, tables = numbers[job_dir], present[job_dir]
        if tables and all(_same_file(p, _part(sweep_dir, t, num)) for t, p in tables.items()) and not _stale(sweep_dir, num, tables):
            return None  # in place and unchanged: checked when it was linked
        try:
            read_run(job_dir, tables=())
        except AnalysisError as err:
            return str(err)
        return None

    # the checks read each table's footer: two at a time (the reads release the GIL), taken in order
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        errors = pool.map(problem, present)  # one per numbered directory, in the order of the directories
        for job_dir, num in numbers.items():
            if bar is not None:
                bar.update()
            if num is None:
                found.incomplete[job_dir] = "no Hydra job number (.hydra/hydra.yaml)"
                continue
            error = next(errors)
            if num in found.complete:
                found.incomplete[job_dir] = f"job number {num} also in {found.complete[num]}"
            elif error is not None:
                found.incomplete[job_dir] = error
            else:
                found.complete[num] = job_dir
                for table, path in present[job_dir].items():
                    wanted[table][num] = path
    if bar is not None:
        bar.close()
    scratch = sweep_dir / ".dataset-tmp"  # where a file is linked before it is renamed into place
    for table in TABLES:
        _sync_table(sweep_dir, table, wanted[table], scratch)
    try:
        scratch.rmdir()  # if empty: another process may be syncing the same sweep
    except OSError:
        pass
    found.tables = tuple(t for t in TABLES if wanted[t])
    return found


def _bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="job", leave=False)


def _part(sweep_dir: Path, table: str, num: int) -> Path:
    return sweep_dir / DATASET / table / f"job={num}" / PART


def _same_file(source: Path, target: Path) -> bool:
    try:
        a, b = source.stat(), target.stat()
    except OSError:
        return False
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def _stale(sweep_dir: Path, num: int, present: dict[str, Path]) -> bool:
    """Whether the dataset holds a table of job ``num`` that the job no longer has."""
    return any(_part(sweep_dir, t, num).exists() for t in TABLES if t not in present)


def _sync_table(sweep_dir: Path, table: str, wanted: dict[int, Path], scratch: Path) -> None:
    root = sweep_dir / DATASET / table
    if root.is_dir():
        for partition in root.iterdir():
            num = partition.name.removeprefix("job=")
            if not (partition.name.startswith("job=") and num.isdigit() and int(num) in wanted):
                shutil.rmtree(partition, ignore_errors=True) if partition.is_dir() else partition.unlink(missing_ok=True)
    for num, source in wanted.items():
        target = _part(sweep_dir, table, num)
        if not _same_file(source, target):
            _place(source, target, scratch)
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()


def _place(source: Path, target: Path, scratch: Path) -> None:
    """Put ``source`` at ``target`` whole: link (or copy) it under a temporary name in ``scratch``
    (outside the dataset), then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(exist_ok=True)
    tmp = scratch / f"{target.parent.parent.name}.{target.parent.name}.{uuid.uuid4().hex}.parquet"
    try:
        try:
            os.link(source, tmp)
        except OSError:  # no hard links here (another file system, or not supported)
            shutil.copy2(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def describe(found: SweepJobs) -> str:
    """One line: where the dataset is, how many jobs it holds, how many it left out."""
    line = f"sweep dataset: {len(found.complete)} job(s) in {found.dataset} (tables: {', '.join(found.tables) or 'none'})"
    if found.incomplete:
        first = next(iter(found.incomplete))
        line += f"; {len(found.incomplete)} left out, e.g. {first.name}: {' '.join(found.incomplete[first].split())}"
    return line


class SweepDataset(Callback):
    """Hydra callback: at the end of a multirun, ``sync_dataset`` of its sweep directory.

    Configured in ``conf/config.yaml`` (``hydra.callbacks.sweep_dataset``); runs in the process
    that started the sweep, after every job, whichever launcher ran them.  A failure here is
    reported and leaves the jobs' own tables as they are (``diplosim.analysis.load_sweep``
    builds the dataset again when it is read).
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        progress = bool(OmegaConf.select(config, "engine.progress", default=True))  # engine.progress=false: no bar
        try:
            found = sync_dataset(sweep_dir, progress=progress)
        except OSError as err:
            log.warning(f"sweep dataset not written: {' '.join(str(err).split())}")
            return
        log.info(describe(found))


__all__ = ["job_overrides", "sweep_name", "register_resolvers", "sync_dataset", "SweepDataset", "SweepJobs", "describe"]
