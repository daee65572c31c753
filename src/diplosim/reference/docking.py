"""Docking: run the JAX core and the reference engine side by side and name where they disagree.

Two values agree when |core - reference| <= RTOL max(|core|, |reference|) + ATOL,
RTOL = 1e-5 (float32 rounding) with an absolute floor ATOL = 2e-6, in the
variable's own unit, that matters only for values below 0.2 in magnitude.
The core computes in float32, the reference in Python floats; the world is
float32 between mechanisms in both.  Some quantities are small differences
of order-1 numbers, so they carry the absolute float32 rounding of those
numbers (resolution 6e-8 at 1), a large relative error of a tiny value:
- integrators: conflict changes each step by g_down (theta - tau), so it
  accumulates the tension's rounding differences, about 1e-8 per step
  (measured: up to 9.5e-7 after 60 steps on a conflict decaying to 0.02);
- the oil a nearly sold-out seller has left, S_i - sold_i (the market's
  later rounds share out float32 residue), and growth rates near 0.
Integer and boolean variables (statuses, ages, envoys sent) must be equal.

Dock over about a year (52 steps): the conflict-tension loop amplifies any
difference by about 3% a step (conflict raises tension through
tension_conflict, tension slows de-escalation through conflict_deescalation),
in the core alone as much as between the engines: a 1e-6 nudge to conflict
grows to 4.7e-6 after 52 steps and 2.1e-5 after 104, so after two years the
engines' float32 rounding differences exceed 1e-5 relative on mid-sized
conflicts (measured: 3.6e-6 on a conflict of 0.13 at step 103).

    from diplosim.reference.docking import dock
    dock("alaska_2025", steps=52, seed=1)      # [] when the engines agree at every step

``compare`` checks two worlds; ``dock_models`` steps two ``DiplomacyModel``
(one per engine) together and stops at the first step where they disagree;
``localise`` then runs each mechanism of both engines from the same input
world and names the first one whose outputs differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from diplosim.world import World

RTOL = 1e-5
ATOL = 2e-6
RECORDS = ("states", "dyads", "envoys", "agreements", "events")


@dataclass(frozen=True)
class Disagreement:
    """One variable on which the engines disagree after a step, at its worst agent."""

    step: int
    variable: str  # "dyads.tension", "states.position", "metrics.cohesion", ...
    agent: str  # "Russia", "Russia->Ukraine", an envoy's name, "slot 3", "world"
    core: float
    reference: float
    agents: int  # how many agents disagree on this variable
    mechanism: str = ""  # the first mechanism whose outputs differ from the same input world ("" if unknown)

    def __str__(self) -> str:
        others = f" (and {self.agents - 1} more)" if self.agents > 1 else ""
        where = f" [first mechanism to disagree from the same input: {self.mechanism}]" if self.mechanism else ""
        return (f"step {self.step}: {self.variable} of {self.agent}{others}: "
                f"core {self.core!r}, reference {self.reference!r}{where}")


def _agent_names(world: World, scenario) -> dict[str, Callable[[int], str]]:
    """How to name row ``index`` of each record."""
    states = list(scenario.states) if scenario is not None else [f"state {i}" for i in range(world.n_states)]
    src, dst = np.asarray(world.dyads.src), np.asarray(world.dyads.dst)
    envoys = list(getattr(scenario, "envoys", ())) or None
    return {
        "states": lambda i: states[i],
        "dyads": lambda e: f"{states[src[e]]}->{states[dst[e]]}",
        "envoys": lambda m: envoys[m] if envoys else f"envoy {m}",
        "agreements": lambda x: f"slot {x}",
        "events": lambda v: scenario.events[v] if scenario is not None else f"event {v}",
    }


def _disagreeing(core: np.ndarray, reference: np.ndarray, rtol: float, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """Which elements disagree (bool, same shape) and by how much beyond the tolerance (for ranking)."""
    if core.shape != reference.shape:
        raise ValueError(f"shapes differ: core {core.shape}, reference {reference.shape}")
    if core.dtype.kind != "f":
        wrong = core != reference
        return wrong, wrong.astype(float)
    a, b = core.astype(np.float64), reference.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        excess = np.abs(a - b) - (rtol * np.maximum(np.abs(a), np.abs(b)) + atol)
    wrong = ~(excess <= 0) & ~both_nan
    return wrong, np.where(wrong, np.nan_to_num(excess, nan=np.inf), -np.inf)


def _worst(step, variable, core, reference, name, rtol, atol, columns=()) -> Disagreement | None:
    """The disagreement of one variable at its worst agent; ``columns`` names a second axis (issues)."""
    core, reference = np.asarray(core), np.asarray(reference)
    wrong, excess = _disagreeing(core, reference, rtol, atol)
    if not wrong.any():
        return None
    at = np.unravel_index(np.argmax(excess), excess.shape)
    agent = name(int(at[0])) if at else "world"
    if len(at) > 1:
        column = int(at[1])
        agent += f", issue {columns[column]}" if column < len(columns) else f"[{column}]"
    return Disagreement(step, variable, agent, core[at].item(), reference[at].item(), int(wrong.sum()))


def compare(core: World, reference: World, step: int, scenario=None, *, rtol: float = RTOL, atol: float = ATOL) -> list[Disagreement]:
    """Every variable of the two worlds that disagrees, each at its worst agent ([] when they dock).

    ``scenario`` (a ``diplosim.scenario.Scenario``) names the agents; ``step`` is reported as given.
    """
    core, reference = jax.device_get(core), jax.device_get(reference)
    names = _agent_names(core, scenario)
    issues = tuple(getattr(scenario, "issues", ()))
    found = []
    for record in RECORDS:
        for field in dataclasses.fields(getattr(core, record)):
            values = getattr(getattr(core, record), field.name), getattr(getattr(reference, record), field.name)
            found.append(_worst(step, f"{record}.{field.name}", *values, names[record], rtol, atol, issues))
    for field in ("watch", "energy_dyads", "issue_agreement", "energy_price", "step"):
        found.append(_worst(step, field, getattr(core, field), getattr(reference, field), lambda i: f"row {i}", rtol, atol))
    return [d for d in found if d is not None]


def compare_metrics(core: dict, reference: dict, step: int, scenario=None, *, rtol: float = RTOL, atol: float = ATOL) -> list[Disagreement]:
    """Every metric of one step that disagrees (per-bloc metrics named by bloc, per-watch ones by dyad)."""
    blocs = list(getattr(scenario, "blocs", ()))
    watch = list(getattr(scenario, "watch", ()))
    found = []
    for name, value in core.items():
        labels = blocs if name == "cohesion" else watch if name.startswith("watch_") else []
        label = (lambda i, labels=labels: labels[i] if i < len(labels) else f"row {i}")
        found.append(_worst(step, f"metrics.{name}", value, reference[name], label, rtol, atol))
    return [d for d in found if d is not None]


def localise(world: World, params, key: jax.Array, mechanisms=None, scenario=None, overrides=None,
             reference_params=None) -> str:
    """The first mechanism whose outputs differ when both engines run it on the same input, or "".

    ``world`` is the world before the step (the reference's), ``key`` the
    step's key; every mechanism after the first starts from the
    reference's output of the one before it.  ``reference_params``: the
    reference's coefficients where they differ from the core's ``params``.
    """
    import jax.numpy as jnp

    from diplosim.engine import KEY_STREAM, _pipeline
    from diplosim.params import Mechanisms
    from diplosim.reference.model import PIPELINE, ReferenceModel

    mechanisms = mechanisms or Mechanisms()
    model = ReferenceModel(world, params if reference_params is None else reference_params, key, mechanisms)
    core_pipeline = dict(_pipeline(world.n_blocs, overrides))
    for name, _ in PIPELINE:
        if not getattr(mechanisms, name):
            continue
        mechanism_key = jax.random.fold_in(key, KEY_STREAM[name])
        core = core_pipeline[name](jax.tree.map(jnp.asarray, model.to_world()), params, mechanism_key)
        model.run_mechanism(name, mechanism_key, overrides)
        if compare(core, model.to_world(), int(world.step) + 1, scenario):
            return name
    return ""


def dock_models(core_model, reference_model, steps: int, *, rtol: float = RTOL, atol: float = ATOL) -> list[Disagreement]:
    """Step a ``DiplomacyModel(engine="jax")`` and a ``DiplomacyModel(engine="reference")`` together.

    Compares the worlds (and metrics) after every step; returns the
    disagreements of the first step where there are any, each naming the
    first mechanism that disagrees from the reference's world before that
    step (``localise``; the decide() policies are not replayed there), or []
    after ``steps`` steps in agreement.  The two models must start from the
    same world and seed (the same key).
    """
    scenario = core_model.scenario
    for _ in range(steps):
        before = reference_model.world
        key = jax.random.fold_in(reference_model.key, int(before.step))
        core_model.step()
        reference_model.step()
        step = int(core_model.world.step)
        found = compare(core_model.world, reference_model.world, step, scenario, rtol=rtol, atol=atol)
        found += compare_metrics(core_model.metrics, reference_model.metrics, step, scenario, rtol=rtol, atol=atol)
        if found:
            mechanism = localise(before, core_model.params, key, reference_model.mechanisms, scenario,
                                 reference_params=reference_model.params)
            return [dataclasses.replace(d, mechanism=mechanism) for d in found]
    return []


def dock(scenario="alaska_2025", steps: int = 52, seed: int = 0, **model_args) -> list[Disagreement]:
    """Run ``scenario`` (a name, a path or a Scenario) in both engines from ``seed``; [] when they dock.

    ``model_args`` go to both ``DiplomacyModel`` (params, policies, mechanisms, coefficients).
    """
    from diplosim.agents import DiplomacyModel

    core = DiplomacyModel(scenario, engine="jax", seed=seed, **model_args)
    reference = DiplomacyModel(core.scenario, engine="reference", seed=seed, **model_args)
    return dock_models(core, reference, steps)
