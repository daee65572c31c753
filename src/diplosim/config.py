"""Structured configuration: the one source of truth for every knob.

The dataclasses are registered in Hydra's ConfigStore as the schemas of the
groups in ``conf/``; a wrong type or an unknown key fails when the run starts,
with Hydra's message.  ``DynamicsConfig`` is generated from ``Params`` so the
names, defaults and documentation of the coefficients live in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from diplosim.params import Mechanisms, Params


@dataclass
class ScenarioConfig:
    """A scenario: a hand-written file (``kind: file``) or a generated world (``kind: synthetic``).

    The format of ``file`` scenarios is in docs/scenarios.md; the loose lists
    below are validated into typed objects by ``diplosim.scenario``.
    """

    kind: str = "file"
    name: str = "alaska_2025"
    description: str = ""
    path: str | None = None  # a scenario YAML outside conf/, replaces the fields below
    start: str | None = None
    issues: list[str] = field(default_factory=list)
    blocs: list[str] = field(default_factory=list)
    energy_price: float | None = None
    sources: Any = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)
    alliances: list[Any] = field(default_factory=list)
    trade: list[Any] = field(default_factory=list)
    tension: list[Any] = field(default_factory=list)
    conflict: list[Any] = field(default_factory=list)
    sanctions: list[Any] = field(default_factory=list)
    channels: list[Any] = field(default_factory=list)
    trust: list[Any] = field(default_factory=list)
    envoys: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    watch: list[Any] = field(default_factory=list)
    issue_agreements: Any = field(default_factory=dict)
    # synthetic worlds
    n_states: int = 1000
    dyads_per_state: int = 10
    n_blocs: int = 3
    n_issues: int = 3
    n_envoys: int = 0
    generator_seed: int = 0


def _dynamics_config():
    fields = [(f.name, float, field(default=f.default)) for f in dataclasses.fields(Params)]
    cls = dataclasses.make_dataclass("DynamicsConfig", fields)
    cls.__doc__ = "Dynamics coefficients; see diplosim.params.Params for meaning, unit and range."
    return cls


DynamicsConfig = _dynamics_config()


def _mechanisms_config():
    fields = [(f.name, bool, field(default=f.default)) for f in dataclasses.fields(Mechanisms)]
    return dataclasses.make_dataclass("MechanismsConfig", fields)


MechanismsConfig = _mechanisms_config()


@dataclass
class EngineConfig:
    """How the JAX core runs."""

    device: str = "auto"  # auto | cpu | gpu
    # steps per compiled chunk (progress bar granularity); 0: automatic, about a twentieth of the run. A chunk
    # holds whole output.every periods, but on a GPU, where a long period is split (engine.chunk_plan)
    chunk_steps: int = 0
    agreement_slots: int = 16
    event_log_capacity: int = 64  # dyads whose endogenous events are recorded per step (agreements: all)
    progress: bool = True
    guard: str = "off"  # off | stop | flag: a NaN or infinity is ignored, stops the run, or is flagged (diplosim.guard)
    # off | states: one world's state and dyad arrays split across every device of the platform (a world
    # too large for one device); arrays are padded to a multiple of the device count. Single runs only,
    # not simulate_batch. Equal to the unsharded run within float32 rounding (diplosim.sharding)
    sharding: str = "off"
    # compiled programs are kept here and reused by later runs of the same shapes ("" turns it off)
    compile_cache: str = "${oc.env:DIPLOSIM_COMPILE_CACHE,${oc.env:HOME,.}/.cache/diplosim/xla}"
    mechanisms: MechanismsConfig = field(default_factory=MechanismsConfig)


@dataclass
class OutputConfig:
    """What a run writes."""

    every: int = 1  # sample states and dyads every `every` steps
    states: bool = True
    dyads: bool = True
    max_dyads: int = 100_000  # dyad table written only for worlds with at most this many dyads
    plot: bool = True
    dir: str | None = None  # defaults to Hydra's run directory


@dataclass
class Config:
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 0
    steps: int = 104  # two years of weekly steps


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="scenario", name="scenario_schema", node=ScenarioConfig)
    cs.store(group="dynamics", name="dynamics_schema", node=DynamicsConfig)
    cs.store(group="engine", name="engine_schema", node=EngineConfig)
    cs.store(group="output", name="output_schema", node=OutputConfig)
    from diplosim.sweep import register_resolvers  # ${diplosim.sweep_name:...} in conf/config.yaml

    register_resolvers()
