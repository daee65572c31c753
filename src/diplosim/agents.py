"""The Mesa layer: states and envoys as Mesa agents, views into the JAX world.

``DiplomacyModel`` is a ``mesa.Model`` built from a scenario.  Its agents hold
no model state of their own: ``agent.gdp`` or ``agent.trust_in(other)`` read
the current arrays of ``model.world``, so nothing can drift.  ``model.step()``
advances the world by one step of the jitted core.  A ``StateAgent`` subclass
may override ``decide(observation)`` to replace the default decision rules
for that state only; the rest of the world still follows the vectorised rules
in the core.  Mesa's own tools work unchanged: ``DataCollector`` (collected
in ``__init__`` and after every step), ``mesa.batch_run`` (pass ``seed`` and
any dynamics coefficient as parameters), ``model.agents.select(...)``,
``model.agents_by_type``.

``engine="reference"`` advances the same model with the reference engine
(``diplosim.reference.ReferenceModel``: the rules as Mesa agents in plain
Python, each state, relation and envoy running its own step logic, docked to
the core within float32 rounding) instead of the jitted core; agents, hooks
and reporters work the same with either.

    from diplosim.agents import DiplomacyModel, StateAgent

    class Hardliner(StateAgent):
        def decide(self, observation):
            return {"envoys": {name: False for name in observation["envoys"]}}   # refuses all talks

    model = DiplomacyModel("alaska_2025", policies={"Russia": Hardliner}, seed=1)
    for _ in range(52):
        model.step()
    model.datacollector.get_model_vars_dataframe()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import mesa
import networkx as nx
import numpy as np

from diplosim import programs
from diplosim.engine import step_with_actions
from diplosim.mechanisms.decisions import Actions
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import Mechanisms, Params, params_from
from diplosim.reference import ReferenceModel
from diplosim.scenario import Scenario, load_scenario_file
from diplosim.world import CHANNELS, trust_mean

CONF = Path(__file__).parent / "conf" / "scenario"
STATE_FIELDS = ("gdp", "power", "approval", "reliability", "growth", "military_share",
                "energy_supply", "energy_demand", "energy_bought", "energy_sold")
DECISIONS = ("sanction", "secondary", "envoys", "propose_ceasefire", "signal")
ENGINES = ("jax", "reference")


def _state_field(name: str):
    def read(self) -> float:
        return float(self.model.world.states.__getattribute__(name)[self.index])

    read.__doc__ = f"Current {name} of this state (see diplosim.world.States)."
    return property(read)


class StateAgent(mesa.Agent):
    """A state: a view into row ``index`` of the world's state arrays."""

    def __init__(self, model: DiplomacyModel, index: int):
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        return self.model.scenario.states[self.index]

    @property
    def bloc(self) -> str:
        return self.model.scenario.blocs[int(self.model.world.states.bloc[self.index])]

    @property
    def position(self) -> dict[str, float]:
        """Current position on each issue (0..1)."""
        row = np.asarray(self.model.world.states.position[self.index])
        return dict(zip(self.model.scenario.issues, row.tolist(), strict=True))

    def _dyad_value(self, other: StateAgent, values) -> float | None:
        e = self.model.dyad_index.get((self.index, other.index))
        return None if e is None else float(values[e])

    def trust_in(self, other: StateAgent) -> float | None:
        """This state's expected reliability of ``other`` (Beta mean), or None without a dyad."""
        return self._dyad_value(other, trust_mean(self.model.world.dyads))

    def tension_with(self, other: StateAgent) -> float | None:
        return self._dyad_value(other, self.model.world.dyads.tension)

    def alliance_with(self, other: StateAgent) -> float | None:
        return self._dyad_value(other, self.model.world.dyads.alliance)

    def sanction_on(self, other: StateAgent) -> float | None:
        return self._dyad_value(other, self.model.world.dyads.sanction)

    def conflict_with(self, other: StateAgent) -> float | None:
        return self._dyad_value(other, self.model.world.dyads.conflict)

    def exports_to(self, other: StateAgent) -> float | None:
        return self._dyad_value(other, self.model.world.dyads.trade)

    @property
    def envoys(self) -> list[EnvoyAgent]:
        return [envoy for envoy in self.model.agents_by_type.get(EnvoyAgent, []) if envoy.principal is self]

    def observe(self) -> dict[str, Any]:
        """What this state sees: its own figures, its partners (by name) and its envoys."""
        partners = {}
        for other in self.model.partners_of(self):
            partners[other.name] = {
                "tension": self.tension_with(other), "trust": self.trust_in(other), "alliance": self.alliance_with(other),
                "sanction": self.sanction_on(other), "conflict": self.conflict_with(other), "power": other.power,
            }
        return {
            "step": self.model.steps,
            "self": {field: getattr(self, field) for field in STATE_FIELDS},
            "partners": partners,
            "envoys": {envoy.name: envoy.active for envoy in self.envoys},
        }

    def decide(self, observation: dict[str, Any]) -> dict[str, Any] | None:
        """This step's actions, or None to follow the default rules.

        Return a dict with any of: ``sanction`` {target: level 0..1},
        ``secondary`` {target: level 0..1} (threaten buyers of target's oil),
        ``envoys`` {envoy name: send?}, ``propose_ceasefire`` [targets],
        ``signal`` [targets] (military signal).  What is not given follows
        the default rules.
        """
        return None


for _field in STATE_FIELDS:
    setattr(StateAgent, _field, _state_field(_field))


class EnvoyAgent(mesa.Agent):
    """An envoy (official or proxy): a view into row ``index`` of the world's envoy arrays."""

    def __init__(self, model: DiplomacyModel, index: int):
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        return self.model.scenario.envoys[self.index]

    @property
    def principal(self) -> StateAgent:
        return self.model.state(int(self.model.world.envoys.principal[self.index]))

    @property
    def counterpart(self) -> StateAgent:
        return self.model.state(int(self.model.world.envoys.counterpart[self.index]))

    @property
    def channel(self) -> str:
        return CHANNELS[int(self.model.world.envoys.channel[self.index])]

    @property
    def credibility(self) -> float:
        return float(self.model.world.envoys.credibility[self.index])

    @property
    def active(self) -> bool:
        return bool(self.model.world.envoys.active[self.index])


def _scenario(scenario: str | Path | Scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    path = Path(scenario)
    if not path.suffix:
        path = CONF / f"{scenario}.yaml"
    return load_scenario_file(path)


class DiplomacyModel(mesa.Model):
    """The diplomacy model as a Mesa model; the JAX core advances it.

    ``scenario``: a scenario name in conf/scenario, a YAML path or a Scenario.
    ``policies``: {state name: StateAgent subclass} for states with their own
    ``decide()``.  ``params``: a Params; any keyword naming a Params field
    overrides it (so ``mesa.batch_run`` can sweep coefficients).  ``seed`` or
    ``rng`` as for any Mesa model; the JAX key is drawn from the model's rng.
    ``engine``: "jax" (the jitted core, default) or "reference" (the
    reference engine: same rules, same random draws, per-agent Python).
    """

    def __init__(self, scenario: str | Path | Scenario = "alaska_2025", *, params: Params | None = None,
                 policies: dict[str, type[StateAgent]] | None = None, mechanisms: Mechanisms = Mechanisms(),
                 engine: str = "jax", seed: int | None = None, rng=None, **coefficients: float):
        if engine not in ENGINES:
            raise ValueError(f"engine = {engine!r}: allowed values are {', '.join(ENGINES)}")
        super().__init__(seed=seed) if rng is None else super().__init__(rng=rng)
        self.engine = engine
        programs.release_when_crowded()  # mesa.batch_run builds one model after another: their programs add up
        self.scenario = _scenario(scenario)
        base = params or params_from()
        self.params = base.replace(**{k: np.float32(v) for k, v in coefficients.items()}) if coefficients else base
        self.mechanisms = mechanisms
        self.world = calibrate_trade(self.scenario.world, self.params)
        self.key = jax.random.key(int(self.rng.integers(2**31 - 1)))
        self.reference: ReferenceModel | None = None
        if engine == "reference":  # its agents advance the world; self.world is its world as numpy arrays
            self.world = jax.device_get(self.world)
            self.reference = ReferenceModel(self.world, self.params, self.key, mechanisms)
        self.metrics: dict[str, Any] = {}
        d = self.world.dyads
        self.dyad_index = {(int(i), int(j)): e for e, (i, j) in enumerate(zip(np.asarray(d.src), np.asarray(d.dst), strict=True))}
        policies = dict(policies or {})
        unknown = set(policies) - set(self.scenario.states)
        if unknown:
            raise ValueError(f"policies: unknown state(s) {sorted(unknown)}; known: {', '.join(self.scenario.states[:20])}")
        self._states = [policies.get(name, StateAgent)(self, i) for i, name in enumerate(self.scenario.states)]
        self._envoys = [EnvoyAgent(self, m) for m in range(len(self.scenario.envoys))]
        self._networks: dict[str, tuple[int, nx.Graph]] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "energy_price": lambda m: float(m.world.energy_price),
                "conflict_total": lambda m: float(m.world.dyads.conflict.sum() / 2),
                **{f"cohesion_{b}": (lambda m, i=i: m.metric("cohesion")[i]) for i, b in enumerate(self.scenario.blocs)},
                **{f"{w}_relation": (lambda m, i=i: m.metric("watch_relation")[i]) for i, w in enumerate(self.scenario.watch)},
            },
            agenttype_reporters={StateAgent: {"gdp": "gdp", "approval": "approval", "power": "power"}},
        )
        self.datacollector.collect(self)

    def state(self, index: int) -> StateAgent:
        return self._states[index]

    def state_named(self, name: str) -> StateAgent:
        return self._states[self.scenario.states.index(name)]

    def partners_of(self, agent: StateAgent) -> list[StateAgent]:
        d = self.world.dyads
        partners = np.asarray(d.dst)[np.asarray(d.src) == agent.index]
        return [self._states[int(j)] for j in partners]

    def metric(self, name: str):
        """A metric of the last step (of the initial world before the first step)."""
        if name not in self.metrics:
            from diplosim.mechanisms.metrics import metrics

            self.metrics = jax.device_get(metrics(self.world)) if self.reference is None else self.reference.metrics
        return np.asarray(self.metrics[name])

    def _actions(self) -> tuple[Actions, Actions] | None:
        """Pack the decide() overrides of this step into (values, mask) arrays; None if nobody overrides."""
        deciders = [a for a in self._states if type(a).decide is not StateAgent.decide]
        if not deciders:
            return None
        d, m = self.world.dyads, self.world.envoys
        e, n_envoys = d.src.shape[0], m.principal.shape[0]
        values = {"sanction": np.zeros(e, np.float32), "secondary": np.zeros(e, np.float32), "dispatch": np.zeros(n_envoys, bool),
                  "propose_ceasefire": np.zeros(e, bool), "signal": np.zeros(e, bool)}
        mask = {k: np.zeros_like(v, bool) for k, v in values.items()}
        for agent in deciders:
            chosen = agent.decide(agent.observe()) or {}
            unknown = set(chosen) - set(DECISIONS)
            if unknown:
                raise ValueError(f"{agent.name}.decide() returned unknown action(s) {sorted(unknown)}; allowed: {', '.join(DECISIONS)}")
            for kind in ("sanction", "secondary"):
                for target, level in chosen.get(kind, {}).items():
                    at = self._dyad(agent, target, kind)
                    values[kind][at], mask[kind][at] = np.clip(level, 0.0, 1.0), True
            for kind in ("propose_ceasefire", "signal"):
                own = np.asarray(d.src) == agent.index
                mask[kind] |= own  # this state decides all its rows: unlisted targets get False
                for target in chosen.get(kind, []):
                    values[kind][self._dyad(agent, target, kind)] = True
            for name, send in chosen.get("envoys", {}).items():
                if name not in self.scenario.envoys or self._envoys[self.scenario.envoys.index(name)].principal is not agent:
                    raise ValueError(f"{agent.name}.decide(): envoys: {name!r} is not one of its envoys; its envoys: {[v.name for v in agent.envoys]}")
                k = self.scenario.envoys.index(name)
                values["dispatch"][k], mask["dispatch"][k] = bool(send), True
        return Actions(**values), Actions(**mask)

    def _dyad(self, agent: StateAgent, target: str, kind: str) -> int:
        if target not in self.scenario.states:
            raise ValueError(f"{agent.name}.decide(): {kind}: unknown state {target!r}")
        e = self.dyad_index.get((agent.index, self.scenario.states.index(target)))
        if e is None:
            raise ValueError(f"{agent.name}.decide(): {kind}: no tie between {agent.name} and {target}")
        return e

    def step(self) -> None:
        """One step of the world: the agents' own decisions, then the jitted core (or the reference engine)."""
        key = jax.random.fold_in(self.key, int(self.world.step))
        if self.engine == "jax":
            self.world, metrics = step_with_actions(self.world, self.params, key, self._actions(), mechanisms=self.mechanisms)
        else:
            self.reference.advance(key, self._actions())
            self.world, metrics = self.reference.to_world(), self.reference.metrics
        self.metrics = jax.device_get(metrics)
        self.datacollector.collect(self)

    def network(self, kind: str = "alliance") -> nx.Graph:
        """The alliance network (undirected, weight = alliance) or trade network (directed, weight = exports) now."""
        if kind not in ("alliance", "trade"):
            raise ValueError(f"network kind {kind!r}: allowed: alliance, trade")
        step, graph = self._networks.get(kind, (-1, None))
        if graph is None:
            graph = nx.Graph() if kind == "alliance" else nx.DiGraph()
            graph.add_nodes_from(self.scenario.states)
            self._networks[kind] = (-1, graph)
        if step != int(self.world.step):
            d = self.world.dyads
            weight = np.asarray(d.alliance if kind == "alliance" else d.trade)
            names = self.scenario.states
            for (i, j), e in self.dyad_index.items():
                if kind == "trade" or i < j:
                    graph.add_edge(names[i], names[j], weight=float(weight[e]))
            self._networks[kind] = (int(self.world.step), graph)
        return graph


__all__ = ["DiplomacyModel", "StateAgent", "EnvoyAgent"]
