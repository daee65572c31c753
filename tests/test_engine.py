import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim import engine as engine_module
from diplosim.engine import RunSpec, chunk_plan, sampled, simulate, simulate_batch, step, step_jit
from diplosim.params import Mechanisms, params_from, stack_params
from diplosim.world import Dyads, States, describe
from worlds import EVENTS_ONLY

# most runs here use one spec: each chunk shape is a full-model program to compile, shared where they agree
SAMPLED = RunSpec(every=4, sample_dyads=True)

KEY = jax.random.key(7)


def _leaves_close(a, b, rtol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-6)


def test_step_keeps_shapes_and_dtypes(world):
    new, m = step_jit(world, params_from(), KEY)
    for before, after in zip(jax.tree.leaves(world), jax.tree.leaves(new)):
        assert before.shape == after.shape and before.dtype == after.dtype
    assert int(new.step) == 1
    assert m["cohesion"].shape == (2,) and m["watch_tension"].shape == (1,)


def test_step_jit_equals_eager(world):
    _leaves_close(step(world, params_from(), KEY), step_jit(world, params_from(), KEY))


@pytest.mark.slow  # op by op, 30 s; simulate_batch against simulate: properties/test_invariants.py
def test_step_vmaps_over_params_and_keys(world):
    many = stack_params([params_from({"trade_relax": r}) for r in (0.1, 0.5)])
    keys = jax.random.split(KEY, 2)
    batched, _ = jax.vmap(step, in_axes=(None, 0, 0))(world, many, keys)
    for i, r in enumerate((0.1, 0.5)):
        single, _ = step(world, params_from({"trade_relax": r}), keys[i])
        _leaves_close(jax.tree.map(lambda x, i=i: x[i], batched), single)


def test_mechanism_switch_turns_a_mechanism_off(world):
    off = Mechanisms(trade=False)
    new, _ = step(world, params_from(), KEY, off)
    np.testing.assert_array_equal(new.dyads.trade, world.dyads.trade)


def test_simulate_records_every_step_and_samples(world):
    final, traj = simulate(world, params_from(), KEY, 10, SAMPLED)
    assert int(final.step) == 10
    np.testing.assert_array_equal(traj.metrics["step"], np.arange(11))
    np.testing.assert_array_equal(traj.sample_steps, [0, 4, 8, 10])
    assert traj.states["gdp"].shape == (4, 3) and traj.dyads["trade"].shape == (4, 6)
    n_agreements = world.agreements.status.shape[0]
    assert traj.events["kind"].shape == (10, 4 * SAMPLED.event_capacity + n_agreements)


def test_chunking_does_not_change_results(world):
    a_final, a = simulate(world, params_from(), KEY, 12, SAMPLED, chunk_steps=12)  # one chunk of 3 samples
    b_final, b = simulate(world, params_from(), KEY, 12, SAMPLED, chunk_steps=4, progress=True)  # three of one
    _leaves_close(a_final, b_final, rtol=0)
    for name in a.metrics:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name])
    np.testing.assert_array_equal(a.sample_steps, b.sample_steps)
    for name in a.dyads:
        np.testing.assert_array_equal(a.dyads[name], b.dyads[name])


def test_same_seed_same_run_different_seed_different_run(world):
    _, a = simulate(world, params_from(), jax.random.key(1), 8, SAMPLED)
    _, b = simulate(world, params_from(), jax.random.key(1), 8, SAMPLED)
    _, c = simulate(world, params_from(), jax.random.key(2), 8, SAMPLED)
    np.testing.assert_array_equal(a.states["approval"], b.states["approval"])
    np.testing.assert_array_equal(a.metrics["polarisation"], b.metrics["polarisation"])
    assert not np.array_equal(a.metrics["polarisation"], c.metrics["polarisation"])


@pytest.mark.slow  # 45 s; on random worlds, in the default run: properties/test_invariants.py
def test_simulate_batch_equals_runs_one_by_one(world):
    values = (0.05, 0.3, 0.6)
    many = stack_params([params_from({"tension_relax": v}) for v in values])
    keys = jax.random.split(KEY, 3)
    finals, traj = simulate_batch(world, many, keys, 9, RunSpec(every=3))
    assert traj.metrics["gdp_total"].shape == (3, 10)
    for i, v in enumerate(values):
        final, one = simulate(world, params_from({"tension_relax": v}), keys[i], 9, RunSpec(every=3))
        _leaves_close(jax.tree.map(lambda x, i=i: x[i], finals), final)
        np.testing.assert_allclose(traj.metrics["polarisation"][i], one.metrics["polarisation"], rtol=1e-5, atol=1e-6)


def test_simulate_batch_rejects_mismatched_batch(world):
    with pytest.raises(ValueError, match="leading batch axis"):
        simulate_batch(world, stack_params([params_from()] * 2), jax.random.split(KEY, 3), 2)


@pytest.mark.parametrize("steps, every, chunk, expected", [
    (10, 1, 5, [(5, 1), (5, 1)]),
    (10, 4, 0, [(1, 4), (1, 4), (1, 2)]),
    (0, 1, 0, []),
    (7, 2, 100, [(3, 2), (1, 1)]),
    (104, 1, 0, [(8, 1)] * 13),  # automatic: equal chunks where a divisor is near, one program
    (103, 1, 0, [(6, 1)] * 17 + [(1, 1)]),  # 103 is prime: the last chunk is shorter
    (104, 1, 6, [(6, 1)] * 17 + [(2, 1)]),  # asked for: as asked
])
def test_chunk_plan_covers_every_step(steps, every, chunk, expected):
    plan = chunk_plan(steps, every, chunk)
    assert plan == expected
    assert sum(s * e for s, e in plan) == steps
    assert all(sampled(plan, every))  # whole periods: every snapshot is a sample


@pytest.mark.parametrize("steps, every, chunk, expected, samples", [
    (52, 52, 0, [(1, 4)] * 13, [52]),  # simulate_batch's usual use on a GPU: 13 pieces, one sample
    (53, 52, 0, [(1, 4)] * 13 + [(1, 1)], [52, 53]),
    (10, 4, 2, [(1, 2)] * 4 + [(1, 2)], [4, 8, 10]),
    (10, 10, 4, [(1, 2)] * 5, [10]),  # asked for 4: the greatest divisor of 10 at or below it
    (12, 4, 0, [(1, 1)] * 12, [4, 8, 12]),  # a twentieth of 12 steps: one
    (100, 4, 0, [(1, 4)] * 25, list(range(4, 101, 4))),  # a period no longer than a chunk (5): not split
    (104, 1, 0, [(8, 1)] * 13, list(range(8, 105, 8))),
])
def test_chunk_plan_splits_long_periods_where_asked(steps, every, chunk, expected, samples):
    plan = chunk_plan(steps, every, chunk, split_periods=True)
    assert plan == expected and len(set(plan)) <= 2
    ends = np.cumsum([s * e for s, e in plan])
    assert list(ends[sampled(plan, every)]) == samples


def test_periods_split_into_chunks_give_the_same_run(world, monkeypatch):
    """The plan and the dropped snapshots are the engine's plumbing: a model of the scheduled events
    alone (it compiles in seconds; the full model's six programs took 114 s of a CI run)."""
    spec = RunSpec(mechanisms=EVENTS_ONLY, every=6, sample_dyads=True)
    monkeypatch.setattr(engine_module, "SPLIT_PERIODS", False)
    a_final, a = simulate(world, params_from(), KEY, 13, spec, chunk_steps=6)  # two chunks of a period, one of a step
    monkeypatch.setattr(engine_module, "SPLIT_PERIODS", True)
    b_final, b = simulate(world, params_from(), KEY, 13, spec, chunk_steps=3, progress=True)  # 4 pieces of 3 steps, 1 step
    _leaves_close(a_final, b_final, rtol=0)
    np.testing.assert_array_equal(b.sample_steps, [0, 6, 12, 13])
    for rows_a, rows_b in ((a.metrics, b.metrics), (a.events, b.events), (a.states, b.states), (a.dyads, b.dyads)):
        assert rows_a.keys() == rows_b.keys()
        for name in rows_a:
            np.testing.assert_array_equal(rows_a[name], rows_b[name])
    keys = jax.random.split(KEY, 2)
    many = stack_params([params_from()] * 2)
    _, batch = simulate_batch(world, many, keys, 12, spec, chunk_steps=3)  # split: SPLIT_PERIODS is still True
    monkeypatch.setattr(engine_module, "SPLIT_PERIODS", False)
    _, whole = simulate_batch(world, many, keys, 12, spec, chunk_steps=6)
    np.testing.assert_array_equal(batch.sample_steps, whole.sample_steps)
    for name in whole.metrics:
        np.testing.assert_array_equal(batch.metrics[name], whole.metrics[name])
    for name in whole.states:
        np.testing.assert_array_equal(batch.states[name], whole.states[name])


def test_params_reach_each_chunk_on_the_device(world, monkeypatch):
    """Numpy params would be copied to the device at every chunk's call (73 copies on a GPU): _run
    puts them beside the world once, single and batched.  The first chunk's call is where the
    check stops (nothing is compiled)."""

    class Seen(Exception):
        pass

    def spy(jitted, chunk_world, params, key, **static):
        raise Seen({type(x) for x in jax.tree.leaves(params)})

    monkeypatch.setattr(engine_module.programs, "call", spy)
    keys = jax.random.split(KEY, 2)
    for run in (lambda: simulate(world, params_from(), KEY, 6, SAMPLED),
                lambda: simulate_batch(world, stack_params([params_from()] * 2), keys, 6, SAMPLED)):
        with pytest.raises(Seen) as seen:
            run()
        kinds = seen.value.args[0]
        assert kinds and all(issubclass(k, jax.Array) for k in kinds), kinds
    assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(params_from()))  # what they arrive as


@pytest.mark.slow  # 20 s; ranges on random worlds and parameters, in the default run: properties/test_invariants.py
def test_bounded_fields_stay_in_range_over_a_long_run(world):
    final, _ = simulate(world, params_from({"tension_noise": 0.2}), KEY, 60)
    for record, cls in ((final.states, States), (final.dyads, Dyads)):
        for name, _doc, _unit, (lo, hi) in describe(cls):
            values = np.asarray(getattr(record, name), np.float64)
            assert np.isfinite(values).all(), name
            if lo is not None:
                assert values.min() >= lo - 1e-6, name
            if hi is not None:
                assert values.max() <= hi + 1e-6, name


def test_world_is_a_pytree_with_static_blocs(world):
    leaves, treedef = jax.tree.flatten(world)
    assert all(isinstance(x, jnp.ndarray) for x in leaves)
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert rebuilt.n_blocs == world.n_blocs == 2


MECHANISM_NAMES = [f.name for f in __import__("dataclasses").fields(Mechanisms)]


def test_all_mechanisms_off_leaves_the_world_unchanged(world):
    new, _ = step(world.replace(step=world.step + 1), params_from(), KEY, Mechanisms(**{n: False for n in MECHANISM_NAMES}))
    _leaves_close(new.replace(step=world.step), world.replace(step=world.step), rtol=0)


@pytest.mark.parametrize("name", MECHANISM_NAMES)
def test_each_switch_runs_exactly_its_mechanism(world, name):
    from diplosim.engine import KEY_STREAM, _pipeline

    only = Mechanisms(**{n: n == name for n in MECHANISM_NAMES})
    w = world.replace(step=world.step + 1)  # the summit fires
    new, _ = step(w, params_from(), KEY, only)
    mechanism = dict(_pipeline(world.n_blocs))[name]
    direct = mechanism(w, params_from(), jax.random.fold_in(KEY, KEY_STREAM[name]))
    _leaves_close(new, direct.replace(step=direct.step + 1))


def _alaska():
    from pathlib import Path

    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.scenario import load_scenario_file

    return calibrate_trade(load_scenario_file(Path(__file__).parents[1] / "conf/scenario/alaska_2025.yaml").world, params_from())


def test_steps_leave_the_shared_arrays_alone_but_the_clock(world):
    """What simulate_batch passes once for all runs (world.SHARED) must be the same in every run."""
    from diplosim.world import SHARED, shared_of

    assert ("dyads", "src") in SHARED and ("step",) in SHARED
    for w in (world, _alaska()):
        new = w
        for i in range(4):  # the tiny world's summit fires at step 1, Alaska's at step 2
            new, _ = step_jit(new, params_from(), jax.random.fold_in(KEY, i))
        for before, after in zip(shared_of(w.replace(step=w.step + 4)), shared_of(new)):
            np.testing.assert_array_equal(before, after)


@pytest.mark.slow  # 34 s (four batched programs): the default suite took 599 s on the CI machine (2026-11-28, twelfth session)
def test_simulate_batch_shares_the_structure_and_keeps_results(world, monkeypatch):
    """Shared (the world once) or not (a copy per run), chunked or not: the runs' histories agree."""
    from diplosim import engine

    many = stack_params([params_from({"tension_relax": v}) for v in (0.05, 0.6)])
    keys = jax.random.split(KEY, 2)
    spec = RunSpec(every=3, sample_dyads=True)
    seen = []
    real = engine._run
    monkeypatch.setattr(engine, "_run", lambda *a, **k: seen.append(k["shared"]) or real(*a, **k))
    final, shared = simulate_batch(world, many, keys, 9, spec, chunk_steps=3)
    worlds = jax.tree.map(lambda x: jnp.stack([x, x]), world)
    _, batched = simulate_batch(worlds, many, keys, 9, spec, world_batched=True)
    other = worlds.replace(watch=jnp.stack([world.watch, world.watch * 0]))  # the runs watch different dyads
    _, unshared = simulate_batch(other, many, keys, 9, spec, world_batched=True)
    assert seen == [True, True, False]
    assert int(final.step[1]) == 9 and final.dyads.src.shape == (2, world.n_dyads)  # every array has the run axis
    for name in ("polarisation", "gdp_total", "step"):
        assert shared.metrics[name].shape == (2, 10)
        np.testing.assert_allclose(shared.metrics[name], batched.metrics[name], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(shared.metrics[name], unshared.metrics[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shared.dyads["tension"], unshared.dyads["tension"], rtol=1e-5, atol=1e-6)
    assert shared.dyads["tension"].shape == (2, 4, world.n_dyads) and shared.events["kind"].shape[:2] == (2, 9)
    np.testing.assert_array_equal(shared.sample_steps, [[0, 3, 6, 9]] * 2)


def test_summit_talks_only_when_a_summit_fires():
    """negotiation bargains in a branch taken when a summit fires: the batched clock keeps it one."""
    from diplosim.mechanisms.negotiation import summits

    w = _alaska()
    for step_no, fires in ((0, False), (2, True)):
        moved, _, _ = summits(w.replace(step=jnp.asarray(step_no, w.step.dtype)), params_from())
        assert (not np.array_equal(moved.states.position, w.states.position)) == fires
    text = jax.jit(lambda w: summits(w, params_from())[0].states.position).lower(w).as_text()
    assert "stablehlo.case" in text or "stablehlo.if" in text


def _small_batch(world):
    """Two runs of 6 steps in 3 chunks, events only: the history's way to the host is the engine's."""
    spec = RunSpec(mechanisms=EVENTS_ONLY, every=2, sample_dyads=True)
    many = stack_params([params_from({"tension_relax": v}) for v in (0.05, 0.6)])
    return simulate_batch(world, many, jax.random.split(KEY, 2), 6, spec, chunk_steps=2)[1]


def _assert_same_history(a, b):
    for name in a.metrics:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name])
    np.testing.assert_array_equal(a.dyads["trade"], b.dyads["trade"])
    np.testing.assert_array_equal(a.events["kind"], b.events["kind"])


def test_history_goes_through_pinned_host_memory_on_a_gpu(world, monkeypatch):
    """On a GPU each chunk's history is copied to pinned host memory: the copy asked for, faked here
    on the CPU (a CPU's arrays are in host memory already, and go as they are)."""
    from diplosim import engine

    plain = _small_batch(world)
    kinds = []
    monkeypatch.setattr(engine, "PINNED_PLATFORMS", {"cpu"})
    monkeypatch.setattr(engine, "_on_cpu", lambda placement: False)
    monkeypatch.setattr(engine.jax, "device_put", lambda tree, where=None, **k: kinds.append(where.memory_kind) or tree)
    pinned = _small_batch(world)
    monkeypatch.undo()
    assert kinds == ["device"] + ["pinned_host"] * 3  # the params beside the world once (_beside), one copy a chunk
    _assert_same_history(plain, pinned)


@pytest.mark.parametrize("shape", [(1, 7), (1, 5, 3), (1, 1, 9), (52, 1000), (3, 4, 2), (9,), (1,), (0, 4)])
def test_history_copied_by_threads_is_copied_exactly(shape):
    from diplosim.engine import _copy_all

    rng = np.random.default_rng(len(shape))
    pieces = [rng.random(shape).astype(np.float32), (rng.random(shape) > 0.5), rng.integers(0, 9, shape)]
    pieces.append(rng.random(shape[::-1]).T)  # not contiguous (for ndim > 1)
    serial = [np.zeros((shape[0] + 2, *shape[1:]), x.dtype) for x in pieces]
    threaded = [np.zeros_like(out) for out in serial]
    _copy_all([(out[1 : 1 + shape[0]], x) for out, x in zip(serial, pieces)], threads=1)
    _copy_all([(out[1 : 1 + shape[0]], x) for out, x in zip(threaded, pieces)], threads=3)
    for a, b, x in zip(serial, threaded, pieces):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b[1 : 1 + shape[0]], x)
        assert not b[0].any() and not b[-1].any()  # nothing written outside the piece's rows


def test_large_history_pieces_are_copied_by_threads(world, monkeypatch):
    from diplosim import engine

    plain = _small_batch(world)
    used = []
    copy_all = engine._copy_all
    monkeypatch.setattr(engine, "THREADED_COPY_BYTES", 0)
    monkeypatch.setattr(engine, "COPY_THREADS", 3)
    monkeypatch.setattr(engine, "_copy_all", lambda copies, threads: used.append(threads) or copy_all(copies, threads=threads))
    copied = _small_batch(world)
    monkeypatch.undo()
    assert used and set(used) == {3}
    _assert_same_history(plain, copied)
