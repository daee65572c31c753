"""The position distance carried from step to step (``world.DistanceCache``, benchmarks/ROOFLINE.md,
change 27): recomputed only at the dyads of the states whose positions moved, the same values, bit for
bit, as computed anew for every dyad."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim import engine
from diplosim import world as W
from diplosim.engine import RunSpec
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import params_from
from diplosim.scenario import load_scenario_file, synthetic_scenario

ALASKA = Path(__file__).parents[1] / "conf/scenario/alaska_2025.yaml"


@pytest.fixture(scope="module")
def world() -> W.World:
    return synthetic_scenario(2_000, n_envoys=20).world  # 20,000 dyads: 1,250 recomputed at most


def _moved(world: W.World, states: np.ndarray, *, salience: bool = False) -> W.States:
    """``world``'s states with ``states``' first position (or salience) nudged."""
    s = world.states
    if salience:
        return W.replace(s, salience=s.salience.at[states, 1].multiply(0.5))
    return W.replace(s, position=s.position.at[states, 0].set(1.0 - s.position[states, 0]))


def _in_degree(world: W.World) -> np.ndarray:
    return np.bincount(np.asarray(world.dyads.dst), minlength=world.n_states)


def _few(world: W.World) -> np.ndarray:
    """Three states of small in-degree (so that their dyads fit), one of them the last state."""
    degree = _in_degree(world)
    small = np.flatnonzero((degree > 0) & (degree <= 20))
    return np.unique(np.array([small[0], small[len(small) // 2], world.n_states - 1]))


def test_the_dyads_of_the_moved_states_are_the_runs_into_them(world):
    cache = jax.jit(W.distance_cache)(world)
    moved = _few(world)
    dyad, overflow = jax.jit(W.moved_dyads)(cache, _moved(world, moved), world.dyads)
    dyad = np.asarray(dyad)
    expected = np.flatnonzero(np.isin(np.asarray(world.dyads.dst), moved))
    assert not bool(overflow)
    assert dyad.shape == (world.n_dyads // W.MOVED_DYADS_SHARE,)
    np.testing.assert_array_equal(dyad[: len(expected)], expected)
    assert (dyad[len(expected):] == world.n_dyads).all()


def test_nothing_moved_selects_no_dyad(world):
    cache = jax.jit(W.distance_cache)(world)
    dyad, overflow = jax.jit(W.moved_dyads)(cache, world.states, world.dyads)
    assert not bool(overflow) and (np.asarray(dyad) == world.n_dyads).all()


def _updated(world: W.World, states: W.States) -> tuple[np.ndarray, bool]:
    cache = jax.jit(W.distance_cache)(world)
    got = jax.jit(W.updated_distance)(cache, states, world.dyads)
    _, overflow = jax.jit(W.moved_dyads)(cache, states, world.dyads)
    assert got.position is not None and got.n_moved == cache.n_moved
    return np.asarray(got.distance), bool(overflow)


@pytest.mark.parametrize("case", ["few positions", "few saliences", "a hub", "more states than talks move"])
def test_the_updated_distance_is_the_distance_computed_anew(world, case):
    """Bit for bit: few states moved (their dyads recomputed), or too many (every dyad recomputed)."""
    degree = _in_degree(world)
    states = {
        "few positions": lambda: _moved(world, _few(world)),
        "few saliences": lambda: _moved(world, _few(world), salience=True),
        "a hub": lambda: _moved(world, np.array([int(np.argmax(degree))])),
        "more states than talks move": lambda: _moved(world, np.arange(0, world.n_states, 7)),
    }[case]()
    got, overflow = _updated(world, states)
    expected = np.asarray(jax.jit(W.dyad_position_distance)(states, world.dyads))
    np.testing.assert_array_equal(got, expected)
    before = np.asarray(jax.jit(W.dyad_position_distance)(world.states, world.dyads))
    assert (got != before).any()  # the case moves something
    assert overflow == (case in ("a hub", "more states than talks move")), (case, degree.max())


def test_a_move_changes_the_distance_both_ways(world):
    """The dyads out of a moved state (the reverses of those into it) are written too."""
    moved = _few(world)
    got, _ = _updated(world, _moved(world, moved))
    before = np.asarray(jax.jit(W.dyad_position_distance)(world.states, world.dyads))
    src, dst = np.asarray(world.dyads.src), np.asarray(world.dyads.dst)
    changed = got != before
    assert changed[np.isin(src, moved)].any() and changed[np.isin(dst, moved)].any()
    assert not changed[~np.isin(src, moved) & ~np.isin(dst, moved)].any()


def _alaska() -> W.World:
    return calibrate_trade(load_scenario_file(ALASKA).world, params_from())


def _assert_same_leaves(one, other) -> None:
    """Two pytrees: every array equal, bit for bit (keys by their data)."""
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(other), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_run_carrying_the_distance_is_the_same_run(monkeypatch):
    """Alaska (whose summits and envoys move positions), 52 steps, carried from its first dyad on:
    the same world, history and events, bit for bit, as a run computing the distance anew."""
    monkeypatch.setattr(W, "CARRY_DISTANCE_FROM", 0)
    world, params = _alaska(), params_from()
    spec = RunSpec(every=1, sample_states=True, sample_dyads=True, event_capacity=16)
    calls = []
    counted = W.updated_distance
    monkeypatch.setattr(W, "updated_distance", lambda *a: calls.append(1) or counted(*a))
    outs = {}
    for keep in (True, False):
        calls.clear()
        run = jax.jit(lambda w, p, k: engine._chunk(w, p, k, spec=spec, samples=52, every=1, keep_distance=keep))  # noqa: B023
        outs[keep] = jax.block_until_ready(run(world, params, jax.random.key(3)))
        assert bool(calls) == keep  # traced: the carried distance is brought up to date only when carried
    assert (np.asarray(outs[True][0].states.position) != np.asarray(world.states.position)).any()
    _assert_same_leaves(outs[True], outs[False])


def test_only_large_worlds_and_single_runs_carry_it(monkeypatch):
    """Below ``CARRY_DISTANCE_FROM`` dyads, and in the batched and sharded programs, no carry."""
    jax.clear_caches()  # traced anew (jit would reuse an earlier trace of the batched program)
    calls = []
    monkeypatch.setattr(W, "distance_cache", lambda w: calls.append(w.n_dyads) or jnp.zeros(()))
    monkeypatch.setattr(engine, "distance_cache", W.distance_cache)
    world, params = _alaska(), params_from()
    spec = RunSpec(every=1)
    jax.jit(lambda w: engine._chunk(w, params, jax.random.key(0), spec=spec, samples=1, every=1)).lower(world)
    assert calls == []  # 110 dyads
    assert not W.carries_distance(W.CARRY_DISTANCE_FROM - 1) and W.carries_distance(W.CARRY_DISTANCE_FROM)
    monkeypatch.setattr(W, "CARRY_DISTANCE_FROM", 0)
    runs = jax.tree.map(lambda x: jnp.stack([x, x]), world)
    engine._run_chunk_batch.lower(runs, jax.tree.map(lambda x: jnp.stack([x, x]), params), jax.random.split(jax.random.key(0), 2),
                                  spec=spec, samples=1, every=1)
    assert calls == []


def _counted(monkeypatch, chunk: str) -> dict[str, int]:
    """A large world's run (threshold patched to 0, no kept programs) with ``engine._distance_of`` and the
    chunk program ``engine.<chunk>`` counted as they are called; each chunk must be given the distance."""
    from diplosim import programs

    monkeypatch.setattr(programs, "_directory", lambda: None)  # the patched threshold is not in a kept program's key
    monkeypatch.setattr(W, "CARRY_DISTANCE_FROM", 0)
    counts = {"computed": 0, "chunks": 0}
    computed, chunked = engine._distance_of, getattr(engine, chunk)

    def counted_computed(*args):
        counts["computed"] += 1
        return computed(*args)

    def counted_chunks(*args, **static):
        counts["chunks"] += 1
        assert isinstance(args[1], W.DistanceCache)
        return chunked(*args, **static)

    monkeypatch.setattr(engine, "_distance_of", counted_computed)
    monkeypatch.setattr(engine, chunk, counted_chunks)
    return counts


def _assert_same_runs(one, other) -> None:
    """Two runs' (world, trajectory): every array equal, bit for bit."""
    _assert_same_leaves((one[0], dataclasses.asdict(one[1])), (other[0], dataclasses.asdict(other[1])))


@pytest.mark.slow  # 39 s: the default suite took 618 s on the CI machine (2026-11-28, twelfth session)
def test_a_run_computes_it_once_and_carries_it_from_chunk_to_chunk(monkeypatch):
    """``simulate`` in chunks of 4 steps: the distance computed once a run, each chunk starting from the
    last one's; the same world and history, bit for bit, as a run that computes it anew each step."""
    counts = _counted(monkeypatch, "_run_chunk_handing_on")
    world, params = _alaska(), params_from()
    spec = RunSpec(every=4, sample_states=True, sample_dyads=True)
    carried = engine.simulate(world, params, jax.random.key(5), 52, spec, chunk_steps=4)
    assert counts == {"computed": 1, "chunks": 13}
    monkeypatch.setattr(engine, "carries_distance", lambda n_dyads: False)
    anew = engine.simulate(world, params, jax.random.key(5), 52, spec, chunk_steps=4)
    assert counts == {"computed": 1, "chunks": 13}  # not carried
    assert (np.asarray(carried[0].states.position) != np.asarray(world.states.position)).any()
    assert len(jax.tree.leaves((carried[0], dataclasses.asdict(carried[1])))) > 50  # the world, every metric, the events, the samples
    _assert_same_runs(carried, anew)


@pytest.mark.slow  # 17 s: the default suite took 585 s on the CI machine (2026-11-28)
def test_a_guarded_run_carries_it_too_and_still_stops_on_a_nan(monkeypatch):
    """engine.guard = stop: the distance computed once a run and carried through the checked chunks
    (``_run_chunk_checked_carrying``), the same run bit for bit as without the guard; a NaN is still
    stopped at its step, with the one-line error."""
    from diplosim.guard import NumericalError

    counts = _counted(monkeypatch, "_run_chunk_checked_carrying")
    world, params = _alaska(), params_from()
    guarded = engine.simulate(world, params, jax.random.key(5), 12, RunSpec(every=4, guard="stop"), chunk_steps=4)
    assert counts == {"computed": 1, "chunks": 3}
    plain = engine.simulate(world, params, jax.random.key(5), 12, RunSpec(every=4), chunk_steps=4)
    assert counts == {"computed": 2, "chunks": 3}  # carried as well, unchecked
    _assert_same_runs(guarded, plain)
    with pytest.raises(NumericalError, match=r"^non-finite [a-z_.]+ at (state|dyad) \d+ at step 1$"):  # the incidents spread it
        engine.simulate(world, params_from({"tension_noise": float("nan")}), jax.random.key(5), 12,
                        RunSpec(every=4, guard="stop"), chunk_steps=4)
    assert counts["chunks"] == 4  # the first checked chunk stopped it
