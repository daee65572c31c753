"""Reductions into a few bins are not scatters: on a GPU every thread of such a scatter adds to the
same few addresses, and two of them cost 27 of the 42 ms of a 10^6-state step on an H200
(benchmarks/results/profile_gpu.md).  ``first_true`` replaces ``jnp.nonzero(size=k)`` and the
bloc cohesion metric is one masked reduction; both must give what they replace, or better."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from diplosim.mechanisms.metrics import bloc_cohesion
from diplosim.scenario import synthetic_scenario
from diplosim.world import first_true


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=300), st.integers(1, 70), st.sampled_from([1, 3, 8, 64, 1024]))
def test_first_true_is_nonzero_with_a_size(bits, size, block):
    mask = jnp.asarray(bits, bool)
    (expected,) = jnp.nonzero(mask, size=size, fill_value=len(bits))
    got = first_true(mask, size, len(bits), block=block)
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def _scatters(fn, *args) -> list[str]:
    text = jax.jit(fn).lower(*args).compile().as_text()
    return [line for line in text.splitlines() if " scatter(" in line]


def test_no_scatter_in_first_true_or_bloc_cohesion():
    world = synthetic_scenario(2_000).world
    assert _scatters(lambda m: first_true(m, 64, 20_000), jnp.zeros(20_000, bool)) == []
    assert _scatters(bloc_cohesion, world) == []


def test_bloc_cohesion_is_exact_where_a_float32_running_sum_was_not():
    """10^6 dyads: a float32 segment sum (the former way) drifts by about 1e-3; this stays at 1e-6."""
    world = synthetic_scenario(100_000).world
    d, bloc = world.dyads, np.asarray(world.states.bloc)
    src, dst, alliance = np.asarray(d.src), np.asarray(d.dst), np.asarray(d.alliance, np.float64)
    inside = bloc[src] == bloc[dst]
    exact = np.array([alliance[inside & (bloc[src] == b)].mean() for b in range(world.n_blocs)])
    np.testing.assert_allclose(np.asarray(bloc_cohesion(world)), exact, rtol=1e-6)
