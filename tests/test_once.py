"""What two mechanisms derive from the same arrays is computed once a step (``world.once``).

XLA does not merge such twin computations by itself: each ended in a ``materialise`` scatter of its
own, and the compiled 10^6-state step computed the position distance twice (once for tension, once
for alliances) and copied the mutual sanction twice (benchmarks/ROOFLINE.md, change 18).
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim import engine, world
from diplosim.params import params_from
from diplosim.scenario import synthetic_scenario

KEY = jax.random.key(0)


def test_once_computes_once_for_the_same_arrays_within_a_scope():
    calls = []

    @world.once
    def double(x):
        calls.append(x)
        return 2 * x

    x, y = jnp.arange(3.0), jnp.arange(3.0)  # equal values, other arrays
    double(x), double(x)
    assert len(calls) == 2  # outside a scope, every call computes
    with world.computed_once():
        first = double(x)
        assert double(x) is first and len(calls) == 3
        assert double(y) is not first and len(calls) == 4  # identity, not equal values
        with world.computed_once():  # a scope of its own, then the outer one's values again
            double(x)
            assert len(calls) == 5
        assert double(x) is first
    double(x)
    assert len(calls) == 6


@pytest.fixture
def counted(monkeypatch):
    """How often the step computes each ``once`` quantity."""
    counts = collections.Counter()
    for name in ("_position_distance", "_mutual", "_conflict_by_bloc", "_bins"):
        memoised = getattr(world, name)
        inner = memoised.__wrapped__
        monkeypatch.setattr(memoised, "__wrapped__",
                            lambda *a, inner=inner, name=name, **k: counts.update([name]) or inner(*a, **k))
    return counts


def test_a_step_computes_the_position_distance_the_mutual_sanction_and_the_bloc_conflict_once(counted):
    w = synthetic_scenario(300).world
    jax.make_jaxpr(lambda w: engine.step(w, params_from(), KEY))(w)
    # read by tension and alliances; trade and tension; the economy and tension; those three
    assert counted == {"_position_distance": 1, "_mutual": 1, "_conflict_by_bloc": 1, "_bins": 1}


def test_the_bloc_conflict_gives_each_state_its_highest_conflict():
    """The economy's reading of the shared scatter equals the plain maximum over each state's incoming dyads."""
    w = synthetic_scenario(300, generator_seed=3).world
    rng = np.random.default_rng(0)
    conflict = jnp.asarray(rng.random(w.n_dyads, np.float32) * (rng.random(w.n_dyads) < 0.2))
    w = world.replace(w, dyads=world.replace(w.dyads, conflict=conflict))
    np.testing.assert_array_equal(world.bloc_conflict_state_max(w), world.state_max_conflict(w.dyads, w.n_states))
    assert float(world.bloc_conflict_state_max(w).max()) > 0


def test_a_mechanism_that_changes_the_arrays_gets_a_new_value(counted):
    """Positions moved between two readers: the second reader computes the distance anew, from the new positions."""
    w = synthetic_scenario(300).world
    with world.computed_once():
        before = world.dyad_position_distance(w.states, w.dyads)
        moved = world.replace(w.states, position=w.states.position.at[0].add(0.5).clip(0.0, 1.0))
        after = world.dyad_position_distance(moved, w.dyads)
    assert counted["_position_distance"] == 2
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, world.dyad_position_distance(moved, w.dyads))
