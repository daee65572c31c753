"""The invariants every world and trajectory must keep, as functions that list the violations.

Each function returns a list of one-line descriptions (empty: all hold), so
a failing property names every broken field at once, with the first
offending index and value.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from diplosim.engine import Trajectory
from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS, Agreements, Dyads, States, World, describe

IN_FORCE = AGREEMENT_STATUS.index("in_force")
RANGED = {"states": States, "dyads": Dyads, "agreements": Agreements}


def _first(bad: np.ndarray, values: np.ndarray) -> str:
    at = np.argwhere(bad)[0]
    where = tuple(int(i) for i in at)
    if not where:
        return f"{values!r}"
    return f"{int(bad.sum())} entries, first at {where if len(where) > 1 else where[0]}: {values[tuple(at)]!r}"


def out_of_range(where: str, values, lo, hi) -> list[str]:
    """Entries outside the closed range [lo, hi] (None: open), NaN included."""
    values = np.asarray(values)
    if values.dtype == bool:
        return []
    bad = np.zeros(values.shape, bool)
    if np.issubdtype(values.dtype, np.floating):
        bad |= ~np.isfinite(values)
    if lo is not None:
        bad |= values < lo
    if hi is not None:
        bad |= values > hi
    return [f"{where} outside [{lo}, {hi}]: {_first(bad, values)}"] if bad.any() else []


def not_finite(where: str, values) -> list[str]:
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return []
    bad = ~np.isfinite(values)
    return [f"{where} not finite: {_first(bad, values)}"] if bad.any() else []


def asymmetric(where: str, values, reverse) -> list[str]:
    """Dyad values (last axis E) that differ from their reverse's."""
    values = np.asarray(values)
    bad = values != values[..., np.asarray(reverse)]
    return [f"{where} not symmetric: {_first(bad, values)}"] if bad.any() else []


def world_violations(world: World) -> list[str]:
    """Range, finiteness, symmetry and agreement-slot invariants of one world."""
    problems = []
    for record, cls in RANGED.items():
        for name, _, _, (lo, hi) in describe(cls):
            problems += out_of_range(f"{record}.{name}", getattr(getattr(world, record), name), lo, hi)
    for record in ("envoys", "events"):
        for f in dataclasses.fields(getattr(world, record)):
            problems += not_finite(f"{record}.{f.name}", getattr(getattr(world, record), f.name))
    problems += out_of_range("energy_price", world.energy_price, 0.0, None)
    d = world.dyads
    problems += asymmetric("dyads.alliance", d.alliance, d.reverse)
    problems += asymmetric("dyads.conflict", d.conflict, d.reverse)
    problems += agreement_violations(world)
    return problems


def agreement_violations(world: World) -> list[str]:
    """Slots in force name two different, valid states and hold valid kinds, issues and channels."""
    a = jax_to_numpy(world.agreements)
    n, k = np.shape(world.states.gdp)[0], np.shape(world.states.position)[1]
    live = a.status == IN_FORCE
    checks = {
        "party_a == party_b": a.party_a == a.party_b,
        "party_a not a state": (a.party_a < 0) | (a.party_a >= n),
        "party_b not a state": (a.party_b < 0) | (a.party_b >= n),
        "kind out of range": (a.kind < 0) | (a.kind >= len(AGREEMENT_KINDS)),
        "issue out of range": (a.issue < 0) | (a.issue >= k),
        "channel out of range": (a.channel < 0) | (a.channel >= len(CHANNELS)),
        "verification outside [0, 1]": ~((a.verification >= 0) & (a.verification <= 1)),
        "negative age": a.age < 0,
    }
    problems = [f"agreement slot in force with {what}: slots {np.flatnonzero(bad & live).tolist()}"
                for what, bad in checks.items() if (bad & live).any()]
    problems += out_of_range("agreements.status", a.status, 0, len(AGREEMENT_STATUS) - 1)
    return problems


def jax_to_numpy(record):
    return dataclasses.replace(record, **{f.name: np.asarray(getattr(record, f.name)) for f in dataclasses.fields(record)})


def trajectory_violations(trajectory: Trajectory, reverse) -> list[str]:
    """Finite metrics every step; sampled state and dyad fields in range; symmetric alliance and conflict."""
    problems = []
    for name, values in trajectory.metrics.items():
        problems += not_finite(f"metrics.{name}", values)
    ranges = {name: bounds for name, _, _, bounds in describe(States)}
    for name, values in (trajectory.states or {}).items():
        problems += out_of_range(f"sampled states.{name}", values, *ranges[name])
    ranges = {name: bounds for name, _, _, bounds in describe(Dyads)}
    for name, values in (trajectory.dyads or {}).items():
        problems += out_of_range(f"sampled dyads.{name}", values, *ranges[name])
    if trajectory.dyads:
        problems += asymmetric("sampled dyads.alliance", trajectory.dyads["alliance"], reverse)
        problems += asymmetric("sampled dyads.conflict", trajectory.dyads["conflict"], reverse)
    return problems
