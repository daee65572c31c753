"""Numerical guard: catch the first NaN or infinity a run produces, and name where it appeared.

``engine.guard`` (``RunSpec.guard``) chooses what a non-finite value does:

- ``off`` (default): nothing; the compiled program is exactly the unguarded
  one (no guard code is traced).
- ``stop``: every step checks the new world inside the compiled scan
  (``jax.experimental.checkify``); the run stops at the end of the chunk
  holding the first bad step and raises ``NumericalError``, one line naming
  the field, the agent and the step, e.g.
  ``non-finite dyads.tension at dyad 17 (Russia -> Ukraine) at step 42``.
- ``flag``: the run goes on; the trajectory carries, per step (row 0 the
  initial world), the metrics ``finite`` (bool), ``nonfinite_field`` (index
  into ``FIELDS``, -1 when finite) and ``nonfinite_index`` (the state, envoy,
  dyad, agreement slot or event, -1 when finite or a scalar), and
  ``first_problem`` reads the first bad step back.

"First" means the earliest step, then the first field in ``FIELDS`` order
(the order of the declarations in ``diplosim.world``), then the lowest agent
index.  One fused reduction per float field finds it: one extra read of the
world per step.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from diplosim.world import Agreements, Dyads, Envoys, Events, States, World

GUARD_MODES = ("off", "stop", "flag")
# each record of the world, and the agent its leading index stands for
RECORDS = {
    "states": (States, "state"),
    "envoys": (Envoys, "envoy"),
    "dyads": (Dyads, "dyad"),
    "agreements": (Agreements, "agreement slot"),
    "events": (Events, "event"),
}
FLAG_METRICS = ("finite", "nonfinite_field", "nonfinite_index")
_MESSAGE = "diplosim guard: non-finite field {field} at index {index} at step {step}"


def _world_fields() -> tuple[tuple[str, str | None], ...]:
    """(``record.field`` name, agent kind or None) of every array field of World, in declaration order."""
    table = []
    for f in dataclasses.fields(World):
        if f.metadata.get("static"):
            continue
        if f.name in RECORDS:
            record, agent = RECORDS[f.name]
            table += [(f"{f.name}.{g.name}", agent) for g in dataclasses.fields(record)]
        else:
            table.append((f.name, None))
    return tuple(table)


FIELDS = _world_fields()
FIELD_NAMES = tuple(name for name, _ in FIELDS)


def check_mode(mode: str) -> str:
    """``mode`` if it is a guard mode, else a one-line ValueError."""
    if mode not in GUARD_MODES:
        raise ValueError(f"engine.guard = {mode!r}: allowed values are {', '.join(GUARD_MODES)}")
    return mode


def _arrays(world: World) -> list[jax.Array]:
    """The world's arrays in ``FIELDS`` order."""
    out = []
    for name, _ in FIELDS:
        value = world
        for part in name.split("."):
            value = getattr(value, part)
        out.append(value)
    return out


def _first_bad_row(values: jax.Array) -> tuple[jax.Array, int]:
    """Lowest leading index holding a non-finite value (``rows`` if none), and ``rows``: one fused reduction."""
    if values.ndim == 0:
        return jnp.where(jnp.isfinite(values), 1, 0).astype(jnp.int32), 1
    rows = values.shape[0]
    index = jax.lax.broadcasted_iota(jnp.int32, values.shape, 0)
    return jnp.where(jnp.isfinite(values), rows, index).min(initial=rows).astype(jnp.int32), rows


def first_nonfinite(world: World) -> tuple[jax.Array, jax.Array]:
    """The first non-finite value of ``world``: (field i32[] into FIELDS, agent index i32[]); (-1, -1) if all finite.

    The agent index is the leading index of the field (state, envoy, dyad,
    agreement slot or event); -1 for a scalar field (energy_price).
    Integer and boolean fields are never non-finite and are skipped.
    """
    field, index = jnp.int32(-1), jnp.int32(-1)
    arrays = _arrays(world)
    for i in reversed(range(len(FIELDS))):  # later fields first, so the earliest bad field wins
        values = arrays[i]
        if not jnp.issubdtype(values.dtype, jnp.floating):
            continue
        row, rows = _first_bad_row(values)
        bad = row < rows
        field = jnp.where(bad, i, field)
        index = jnp.where(bad, row if values.ndim else -1, index)
    return field, index


def inspect_step(world: World, metrics: dict[str, jax.Array], mode: str) -> dict[str, jax.Array]:
    """Inside the scan, after each step: check the new world (``stop``) or add the flag metrics (``flag``)."""
    field, index = first_nonfinite(world)
    if check_mode(mode) == "stop":
        checkify.check(field < 0, _MESSAGE, field=field, index=index, step=world.step)
        return metrics
    return {**metrics, "finite": field < 0, "nonfinite_field": field, "nonfinite_index": index}


@functools.partial(jax.jit, static_argnames="batched")
def _locate_nonfinite(world: World, *, batched: bool):
    return (jax.vmap(first_nonfinite) if batched else first_nonfinite)(world)


def inspect_initial(world: World, metrics: dict[str, Any], mode: str, batched: bool) -> dict[str, Any]:
    """Before the run: ``stop`` raises on a non-finite initial world; ``flag`` adds row 0 of the flag metrics."""
    field, index = jax.device_get(_locate_nonfinite(world, batched=batched))
    if check_mode(mode) == "stop":
        bad = np.flatnonzero(np.ravel(field) >= 0)
        if bad.size:
            run = int(bad[0])
            raise NumericalError(int(np.ravel(field)[run]), int(np.ravel(index)[run]), 0, run if batched else None)
        return metrics
    return {**metrics, "finite": field < 0, "nonfinite_field": field, "nonfinite_index": index}


def checkified(function: Callable) -> Callable:
    """``function`` returning ``(checkify.Error, outputs)``, with the guard's checks functionalised.

    Vmap the result (not the argument) for a batch: the error then keeps one
    entry per run, and ``raise_on`` reports the lowest run.
    """
    return checkify.checkify(function, errors=checkify.user_checks)


def stopping(checked_runner: Callable) -> Callable:
    """A chunk runner from a checkified one: raises NumericalError after a chunk whose check failed."""

    def run(*args, **kwargs):
        error, outputs = checked_runner(*args, **kwargs)
        raise_on(error)
        return outputs

    return run


def raise_on(error: checkify.Error) -> None:
    """Raise NumericalError if the guard's check failed: the earliest step (in a batch, then the lowest run)."""
    failure = error.get_exception()
    if failure is None:
        return
    by_run = getattr(failure, "error_mapping", None)  # a batch: one failure per failing run
    failures = sorted(by_run.items()) if by_run is not None else [(None, failure)]
    found = []
    for run, one in failures:
        values = {name: np.asarray(v) for name, v in getattr(one, "kwargs", {}).items()}
        if not {"field", "index", "step"} <= set(values):  # not the guard's check: raise it as it is
            error.throw()
        found.append((int(values["step"]), run[0] if run else -1, int(values["field"]), int(values["index"])))
    step, run, field, index = min(found)
    raise NumericalError(field, index, step, run if by_run is not None else None)


class NumericalError(FloatingPointError, ValueError):
    """A run produced a NaN or an infinity; the message is one line naming field, agent and step.

    ``field`` (index into FIELDS), ``index`` (agent), ``step``, ``run`` (the
    run of a batch, or None) are kept as attributes; ``named(scenario)``
    adds the scenario's names of states, envoys and events.
    """

    def __init__(self, field: int, index: int, step: int, run: int | None = None, names: str = ""):
        self.field, self.index, self.step, self.run, self.names = field, index, step, run, names
        super().__init__(describe(field, index, step, run, names))

    @property
    def field_name(self) -> str:
        return FIELD_NAMES[self.field]

    def named(self, scenario) -> NumericalError:
        """The same error, with the scenario's name of the agent."""
        return NumericalError(self.field, self.index, self.step, self.run, agent_name(self.field, self.index, scenario))


def describe(field: int, index: int, step: int, run: int | None = None, names: str = "") -> str:
    """``non-finite dyads.tension at dyad 17 (Russia -> Ukraine) at step 42`` (``in run 3`` in a batch)."""
    name, agent = FIELDS[field]
    where = f" at {agent} {index}" if agent is not None and index >= 0 else ""
    label = f" ({names})" if names else ""
    in_run = f" in run {run}" if run is not None else ""
    return f"non-finite {name}{where}{label} at step {step}{in_run}"


def agent_name(field: int, index: int, scenario) -> str:
    """The scenario's name of the agent (``Russia``, ``Russia -> Ukraine``), or "" if it has none."""
    _, agent = FIELDS[field]
    try:
        if agent == "state":
            return scenario.states[index]
        if agent == "dyad":
            d = scenario.world.dyads
            return f"{scenario.states[int(d.src[index])]} -> {scenario.states[int(d.dst[index])]}"
        if agent == "envoy":
            return scenario.envoys[index]
        if agent == "event":
            return scenario.events[index]
    except (IndexError, TypeError, AttributeError):
        return ""
    return ""


def first_problem(metrics: dict[str, np.ndarray], scenario=None) -> str | None:
    """The first non-finite value a ``flag`` run met, as one line (None if none, or the run was not flagged).

    ``metrics``: a trajectory's metrics (one run: [T + 1]; a batch: [R, T + 1]).
    """
    if "finite" not in metrics:
        return None
    finite = np.asarray(metrics["finite"])
    if finite.all():
        return None
    batched = finite.ndim == 2
    steps = np.asarray(metrics["step"])
    bad = np.argwhere(~finite)
    # earliest step first (then the lowest run)
    at = tuple(bad[np.lexsort((bad[:, 0], bad[:, -1]))[0]]) if batched else tuple(bad[0])
    field = int(np.asarray(metrics["nonfinite_field"])[at])
    index = int(np.asarray(metrics["nonfinite_index"])[at])
    names = agent_name(field, index, scenario) if scenario is not None else ""
    return describe(field, index, int(steps[at]), int(at[0]) if batched else None, names)
