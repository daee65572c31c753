"""Reductions into a few bins are not scatters: on a GPU every thread of such a scatter adds to the
same few addresses, and two of them cost 27 of the 42 ms of a 10^6-state step on an H200
(benchmarks/results/profile_gpu.md).  ``first_true`` replaces ``jnp.nonzero(size=k)`` and the
bloc cohesion metric is one masked reduction; both must give what they replace, or better.  Nor does the
GPU's step hold loops of small kernels (each round its own launches there); the CPU's keeps them as loops,
which compile faster, and both give the same numbers.  The GPU's program also sums by destination in
blocks first, and takes the bloc threat's totals and counts in one scatter (``diplosim.world.gpu_program``)."""

from __future__ import annotations

import contextlib
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diplosim.mechanisms.metrics import bloc_cohesion
from diplosim.scenario import synthetic_scenario
from diplosim.world import first_true


@pytest.mark.parametrize("length, size, block", [
    (0, 3, 1024), (1, 1, 1024), (7, 3, 1), (7, 8, 2), (64, 64, 1024), (100, 4, 8), (300, 64, 3), (300, 5, 1024), (1000, 16, 16),
])
def test_first_true_is_nonzero_with_a_size(length, size, block):
    """Every mask density (none, sparse, half, all True) at each shape: exactly ``jnp.nonzero``'s answer."""
    ours = jax.jit(lambda m: first_true(m, size, length, block=block))
    theirs = jax.jit(lambda m: jnp.nonzero(m, size=size, fill_value=length)[0])
    rng = np.random.default_rng(length * 1000 + size)
    for share in (0.0, 0.01, 0.1, 0.5, 0.9, 1.0):
        for _ in range(3):
            mask = jnp.asarray(rng.random(length) < share)
            got = ours(mask)
            assert got.dtype == jnp.int32
            np.testing.assert_array_equal(np.asarray(got), np.asarray(theirs(mask)), err_msg=f"share {share}")


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


@functools.cache
def _lowered_step(unroll: bool | None):
    """The chunk program of the full model on a 2,000-state world, lowered (not yet compiled), with
    its loops of small kernels unrolled (True), kept (False) or as this platform wants (None); each
    lowered once."""
    from diplosim import engine
    from diplosim.engine import RunSpec
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from

    params = params_from()
    world = calibrate_trade(synthetic_scenario(2_000).world, params)
    spec = RunSpec(every=1, sample_states=True, sample_dyads=False, event_capacity=16)
    def _chunk(w, p, k):  # a new function each call, so traced anew; named as the engine's
        return engine._chunk(w, p, k, spec=spec, samples=2, every=1)

    with gpu_program_set_to(unroll):
        return jax.jit(_chunk).lower(world, params, jax.random.key(0))


@contextlib.contextmanager
def gpu_program_set_to(choice: bool | None):
    """``diplosim.world.GPU_PROGRAM`` set for the block.  It is read while tracing and is not in jit's key,
    so the block traces new functions (a new lambda each time), not ones jit may have traced before."""
    from diplosim import world as world_module

    before = world_module.GPU_PROGRAM
    world_module.GPU_PROGRAM = choice
    try:
        yield
    finally:
        world_module.GPU_PROGRAM = before


def test_the_gpu_step_has_no_loop_of_small_kernels():
    """A loop in the step runs its body's kernels once per round, each of a few threads' work on a GPU:
    the binary search of ``lookup_dyads`` (24 rounds at 10^7 dyads, in several mechanisms), ``searchsorted``'s
    default method, the bargaining and market-clearing rounds.  Where they are unrolled (on a GPU), the
    only loops left in the compiled step are the scan over steps and jax.random's threefry rounds."""
    text = _lowered_step(True).compile().as_text()
    loops = [m.group(1) for m in re.finditer(r' while\(.*?op_name="([^"]*)"', text)]
    assert loops, "no loop found: the scan over steps should be one"
    assert [name for name in loops if name != "jit(_chunk)/while" and "threefry" not in name] == []


def test_the_cpu_step_keeps_its_loops_and_the_gpu_step_unrolls_them():
    """On a CPU the loops stay loops: the step takes as long either way, and the unrolled program took
    up to twice as long to compile (benchmarks/ROOFLINE.md, change 16)."""
    count = lambda lowered: lowered.as_text().count("stablehlo.while")  # noqa: E731
    kept, unrolled = count(_lowered_step(False)), count(_lowered_step(True))
    assert kept > unrolled
    assert count(_lowered_step(None)) == (unrolled if jax.default_backend() != "cpu" else kept)


def test_the_platform_of_the_default_device_decides(monkeypatch):
    from diplosim import world as world_module

    cpu = jax.devices("cpu")[0]
    monkeypatch.setattr(world_module.jax, "default_backend", lambda: "gpu")
    assert world_module.gpu_program() is True  # no default device set: the backend's
    with jax.default_device(cpu):
        assert world_module.gpu_program() is False  # engine.device=cpu on a GPU machine
    with jax.default_device("cpu"):
        assert world_module.gpu_program() is False
    monkeypatch.setattr(world_module.jax, "default_backend", lambda: "cpu")
    assert world_module.gpu_program() is False and world_module.unrolled() is False
    monkeypatch.setattr(world_module, "GPU_PROGRAM", True)
    assert world_module.gpu_program() is True and world_module.unrolled() is True


def test_unrolled_and_kept_loops_give_the_same_numbers():
    """The GPU's variant of each loop, run here on the CPU, against the CPU's: the binary searches
    (``lookup_dyads``, ``first_true``), the market's rounds and the bargaining rounds."""
    from diplosim.mechanisms.negotiation import _bargain
    from diplosim.mechanisms.trade import trade_and_energy
    from diplosim.params import params_from
    from diplosim.world import lookup_dyads

    world = synthetic_scenario(3_000).world
    d = world.dyads
    rng = np.random.default_rng(5)
    asked = jnp.asarray(rng.integers(0, d.src.shape[0], 500))
    src = jnp.where(jnp.arange(500) % 3 == 0, d.dst[asked], d.src[asked])  # a third asked backwards: some absent
    mask = jnp.asarray(rng.random(30_000) < 0.01)
    g, n = 4, 5
    bargain_args = (jnp.asarray(rng.random((g, n)), jnp.float32), jnp.asarray(rng.random((g, n)), jnp.float32),
                    jnp.asarray(rng.random((g, n)), jnp.float32), jnp.asarray(rng.random((g, n)) < 0.8),
                    jnp.full((g, n), 0.3, jnp.float32))
    runs = {}
    for unroll in (False, True):
        with gpu_program_set_to(unroll):
            runs[unroll] = (  # each a new lambda, traced anew
                jax.jit(lambda *a: lookup_dyads(*a))(d, src, d.dst[asked]),
                jax.jit(lambda m: first_true(m, 64, 30_000))(mask),
                jax.jit(lambda *a: trade_and_energy(*a))(world, params_from(), jax.random.key(0)),
                jax.jit(lambda *a: _bargain(*a, rounds=3))(*bargain_args),
            )
    assert not bool(runs[False][0][1].all())  # some pairs absent, some found
    for kept, unrolled in zip(jax.tree.leaves(runs[False]), jax.tree.leaves(runs[True])):
        np.testing.assert_array_equal(np.asarray(kept), np.asarray(unrolled))


def test_no_large_scatter_is_marked_sorted():
    """XLA on a GPU emits a scatter marked ``indices_are_sorted`` as a slower kernel (0.52 against
    0.38 ms for a segment sum over 10^7 dyads on an H200), so the step's reductions by destination
    or buyer do not say that their indices are sorted.  Only ``materialise``'s two-row scatters may."""
    lines = _lowered_step(None).as_text().splitlines()
    sorted_indices = []
    for i, line in enumerate(lines):
        if '"stablehlo.scatter"' in line and "indices_are_sorted = true" in line:
            signature = next(later for later in lines[i:] if later.lstrip().startswith("}) : ("))
            sorted_indices.append(re.findall(r"tensor<([^>]*)>", signature)[1])
    assert sorted_indices, "materialise's scatters are marked sorted: the search should find them"
    assert [shape for shape in sorted_indices if not shape.startswith("2x")] == []


@pytest.mark.parametrize("block", [1, 4, 16])
def test_blocked_segment_sum_is_the_scatter(block):
    """Sorted indices with empty segments, runs longer than several blocks (a hub), runs of one, and
    a length that is no multiple of the block: integer-valued floats sum exactly, others within rounding."""
    from diplosim.world import blocked_segment_sum

    rng = np.random.default_rng(3)
    n = 50
    index = np.sort(np.concatenate([rng.integers(0, n, 300), np.full(70, 17), [0, n - 1]])).astype(np.int32)
    index = index[index != 23]  # an empty segment inside
    for values in (rng.integers(-5, 6, index.size).astype(np.float32), rng.random(index.size, dtype=np.float32)):
        ours = jax.jit(blocked_segment_sum, static_argnums=(2, 3))(jnp.asarray(values), jnp.asarray(index), n, block)
        exact = np.bincount(index, weights=values.astype(np.float64), minlength=n)
        np.testing.assert_allclose(np.asarray(ours), exact, rtol=1e-6, atol=1e-5)
        if np.all(values == np.round(values)):
            np.testing.assert_array_equal(np.asarray(ours), exact)
    assert float(blocked_segment_sum(jnp.ones(3), jnp.asarray([0, 0, 1]), 2, 16)[1]) == 1.0
    assert blocked_segment_sum(jnp.zeros(0), jnp.zeros(0, jnp.int32), 4).tolist() == [0.0] * 4


def test_the_gpu_program_sums_in_blocks_and_takes_the_threat_in_one_scatter():
    """The GPU's program (run here on the CPU) against the CPU's: the same sums by destination within
    rounding and the same bloc threat, computed the GPU's way (blocks first; one scatter, not two)."""
    from diplosim.mechanisms.alliances import bloc_threat
    from diplosim.world import segment_sum_dst

    world = synthetic_scenario(3_000).world
    n, b = world.n_states, world.n_blocs
    runs, shapes = {}, {}
    for gpu in (False, True):
        with gpu_program_set_to(gpu):
            runs[gpu] = (jax.jit(lambda w: segment_sum_dst(w.dyads.trade, w.dyads, n))(world),
                         jax.jit(lambda w: bloc_threat(w, b))(world))
            shapes[gpu] = (str(jax.make_jaxpr(lambda w: segment_sum_dst(w.dyads.trade, w.dyads, n))(world)),
                           str(jax.make_jaxpr(lambda w: bloc_threat(w, b))(world)))
    np.testing.assert_allclose(np.asarray(runs[True][0]), np.asarray(runs[False][0]), rtol=1e-5, atol=1e-6)
    for cpu_threat, gpu_threat in zip(runs[False][1], runs[True][1]):
        np.testing.assert_array_equal(np.asarray(gpu_threat), np.asarray(cpu_threat))
    assert shapes[False][0].count("scatter-add") == 1 and " pad" not in shapes[False][0]
    assert shapes[True][0].count("scatter-add") == 1 and " pad" in shapes[True][0]
    assert shapes[False][1].count("scatter-add") == 2 and shapes[True][1].count("scatter-add") == 1
    assert float(jnp.max(runs[False][0])) > 0 and max(float(t.max()) for t in runs[False][1]) > 0


@pytest.mark.slow  # 20 s, two programs of the full model; each difference alone is checked in the default run
def test_the_gpu_and_cpu_programs_run_the_same_model():
    """Five steps of the full model, the GPU's program and the CPU's, both run here: the same world
    within float32 rounding (the blocked sums add in another order), the same discrete state."""
    from diplosim.engine import RunSpec, simulate
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from

    params = params_from()
    world = calibrate_trade(synthetic_scenario(2_000).world, params)
    finals = {}
    for gpu in (False, True):
        with gpu_program_set_to(gpu):
            jax.clear_caches()  # the chunk program is traced again for this choice
            finals[gpu], _ = simulate(world, params, jax.random.key(3), 5, RunSpec(every=5, event_capacity=0))
    jax.clear_caches()
    for cpu_leaf, gpu_leaf in zip(jax.tree.leaves(finals[False]), jax.tree.leaves(finals[True])):
        cpu_leaf, gpu_leaf = np.asarray(cpu_leaf), np.asarray(gpu_leaf)
        if np.issubdtype(cpu_leaf.dtype, np.floating):
            np.testing.assert_allclose(gpu_leaf, cpu_leaf, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(gpu_leaf, cpu_leaf)
