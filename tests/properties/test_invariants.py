"""Invariants of the whole model under random worlds, parameters and event schedules.

Each example draws a world of the fixed bucket of shapes (``random_worlds``),
every coefficient within its declared range and a random schedule, runs it
``STEPS`` steps with ``simulate`` (in chunks, checking the full world after
each), and checks every step's sampled fields and metrics.  Examples per
property: see ``conftest.py`` (``DIPLOSIM_HYPOTHESIS_PROFILE=long`` for many).
"""

from __future__ import annotations

import jax
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from diplosim.engine import RunSpec, simulate, simulate_batch
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import check_params, stack_params
from properties.invariants import trajectory_violations, world_violations
from properties.random_worlds import STEPS, random_params, random_world, seeded_world

SPEC = RunSpec(every=1, sample_states=True, sample_dyads=True, event_capacity=8)
CHUNK = 5  # steps per simulate call: every call reuses one compiled chunk of this length
RUNS = 3  # runs per batch in the vmap property
keys = st.integers(0, 2**32 - 1).map(jax.random.key)


def run_checked(world, params, key, steps: int = STEPS) -> list[str]:
    """Run ``steps`` steps in chunks of CHUNK; the violations found (stops at the first chunk with any)."""
    problems = world_violations(world)
    for start in range(0, steps, CHUNK):
        world, trajectory = simulate(world, params, key, CHUNK, SPEC, chunk_steps=CHUNK)
        found = trajectory_violations(trajectory, world.dyads.reverse) + world_violations(world)
        problems += [f"steps {start + 1}-{start + CHUNK}: {p}" for p in found]
        if problems:
            break
    return problems


@given(random_world(), random_params(), keys)
def test_random_runs_keep_every_invariant(world, params, key):
    """Ranges, non-negative flows, finite values, symmetric alliance and conflict, consistent agreement slots."""
    check_params(params)
    world = calibrate_trade(world, params)
    problems = run_checked(world, params, key)
    assert not problems, "\n".join(problems)


def _stack(trees):
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def _same(many, one, message):
    """A run in a batch equals the run alone: integers and flags exactly, floats within float32 rounding.

    Not bit for bit: the batch passes the world's structure once for all runs (world.SHARED), and
    XLA then fuses some of the vmapped program's reductions differently from the single run's.
    """
    many, one = np.asarray(many), np.asarray(one)
    if np.issubdtype(one.dtype, np.floating):
        np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-6, err_msg=message)
    else:
        np.testing.assert_array_equal(many, one, err_msg=message)


@given(st.lists(st.tuples(seeded_world(), random_params(), keys), min_size=RUNS, max_size=RUNS))
def test_vmapped_runs_equal_runs_one_by_one(runs):
    """simulate_batch over R (world, params, key) rows gives, row by row, what simulate gives."""
    worlds = [calibrate_trade(w, p) for w, p, _ in runs]
    params = stack_params([p for _, p, _ in runs])
    batch_keys = jax.numpy.stack([k for _, _, k in runs])
    steps = 4 * CHUNK
    finals, batch = simulate_batch(_stack(worlds), params, batch_keys, steps, SPEC, chunk_steps=CHUNK, world_batched=True)
    for r, (world, (_, p, key)) in enumerate(zip(worlds, runs)):
        final, single = simulate(world, p, key, steps, SPEC, chunk_steps=CHUNK)
        for path, one, many in zip(_paths(final), jax.tree.leaves(final), jax.tree.leaves(finals)):
            _same(np.asarray(many)[r], one, f"run {r}: final world {path}")
        for name in single.metrics:
            _same(batch.metrics[name][r], single.metrics[name], f"run {r}: metric {name}")
        for name in single.events:
            _same(batch.events[name][r], single.events[name], f"run {r}: events {name}")
        for table in ("states", "dyads"):
            for name, values in getattr(single, table).items():
                _same(getattr(batch, table)[name][r], values, f"run {r}: {table}.{name}")


def _paths(tree) -> list[str]:
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(tree)]
