"""``hydra/launcher=batched``: a sweep's jobs run as a few ``simulate_batch`` calls instead of one by one.

    diplosim -m hydra/launcher=batched seed='range(64)' dynamics.trade_relax=0.1,0.2,0.3,0.4

The launcher composes every job's configuration as Hydra's basic launcher does, groups the jobs
that differ only in values the compiled program takes as arguments (``seed`` and the
``dynamics.*`` coefficients; also where the tables go and whether a plot is drawn), and runs each
group as ``simulate_batch`` calls of at most ``batch_size`` runs (a call is made up to a power of
two runs with copies of its last, so that a few compiled programs serve every sweep).  Anything else that differs
(the scenario, its sizes, ``steps``, mechanism switches, output sampling, engine settings) puts
jobs into separate groups.  After each call it runs every job of the call through the steps of
Hydra's ``run_job`` (``_records.run_job_sharing``: the same, without copying the sections a job
shares with its template) with the job's own task, which finds its result already computed
(``diplosim.app.simulated``): each job's directory, tables, plot, summary, ``.hydra/`` record and
log are those the basic launcher writes, and a job is written as soon as its call is done.

Jobs are taken 256 at a time (or ``batch_size`` at a time, if larger), so that memory stays
bounded in sweeps of any size; each window is planned, simulated and written before the next.

Every job's configuration is Hydra's, but composed from a template where a job differs from an
earlier one only in plain values (``_templates.TemplateConfigLoader``), sharing the template's
nodes that its overrides leave untouched and that hold no interpolation (``shared_sections``):
Hydra composes each job from scratch twice, about a second each with the Alaska scenario on a
2-core CPU.  The chunk program is traced once per compile cache, not once per process
(``diplosim.programs``).

Jobs whose tables are already complete (a sweep started again) are not simulated again; a job
with a configuration error is run first, so the sweep stops with its one-line error before
anything is computed; a call stopped by ``engine.guard=stop`` runs its jobs one by one, so the
error names the failing run as the basic launcher would.  Sharded jobs (``engine.sharding``)
run one by one.

Settings (``hydra.launcher.<name>=...``):
- ``batch_size``: runs per ``simulate_batch`` call; 0 (default): as many as fit in
  ``memory_fraction`` of the free device (and host) memory, at most 4096.
- ``memory_fraction``: the share of free memory the automatic ``batch_size`` may use (0.5).
- ``writers``: processes that write a call's jobs once it is done (``_writers``: each job's
  ``run_job`` is Python work, most of a sweep's time on a CPU); 0 (default): one per core the
  process may use, at most 8, each with at least 4 jobs; 1: this process only.  Linux only
  (elsewhere 1).  A job's callbacks run in the process that writes it, as with the joblib launcher.
"""

# no ``from __future__ import annotations`` here: Hydra scans plugins by executing the module
# outside ``sys.modules``, where dataclasses cannot resolve string annotations
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


@dataclass
class BatchedLauncherConf:
    _target_: str = "hydra_plugins.diplosim_batched.batched_launcher.BatchedLauncher"
    batch_size: int = 0  # runs per simulate_batch call; 0: as many as fit in memory_fraction of free memory (<= 4096)
    memory_fraction: float = 0.5  # share of free device (and host) memory the automatic batch_size may use
    writers: int = 0  # processes writing a call's jobs; 0: one per core (<= 8, >= 4 jobs each); 1: this one only


ConfigStore.instance().store(group="hydra/launcher", name="batched", node=BatchedLauncherConf, provider="diplosim")


class BatchedLauncher(Launcher):
    """Hydra launcher: groups of jobs as ``simulate_batch`` calls, each job written by ``run_job``."""

    def __init__(self, batch_size: int = 0, memory_fraction: float = 0.5, writers: int = 0) -> None:
        self.batch_size = batch_size
        self.memory_fraction = memory_fraction
        self.writers = writers
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from ._templates import install

        # checked here rather than in __init__, where Hydra would wrap the message in its own
        if self.batch_size < 0:
            raise ValueError(f"hydra.launcher.batch_size = {self.batch_size}: must be >= 0 (0: automatic)")
        if not 0 < self.memory_fraction <= 1:
            raise ValueError(f"hydra.launcher.memory_fraction = {self.memory_fraction}: must be in (0, 1]")
        if self.writers < 0:
            raise ValueError(f"hydra.launcher.writers = {self.writers}: must be >= 0 (0: one per core)")
        install(hydra_context)  # jobs' configs from a template: for the sweeper's check and for launch
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _core  # JAX and the model load here, not when Hydra scans its plugins

        return _core.launch(self, job_overrides, initial_job_idx)
