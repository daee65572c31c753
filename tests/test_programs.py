"""Traced programs kept in the compile cache (diplosim.programs): the same numbers, traced once per cache."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from diplosim import engine, programs
from diplosim.engine import RunSpec, Trajectory, simulate, simulate_batch
from diplosim.params import params_from, stack_params
from worlds import EVENTS_ONLY

KEY = jax.random.key(3)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """One compile cache for the module, keeping every program (the tests compile the same few)."""
    directory = tmp_path_factory.mktemp("xla")
    before = jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield directory
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


@pytest.fixture
def cache(compiled, monkeypatch):
    """The kept programs' directory, empty, and no program loaded in this process yet."""
    kept = compiled / programs.SUBDIR
    for path in kept.iterdir() if kept.exists() else ():
        path.unlink()
    jax.config.update("jax_compilation_cache_dir", str(compiled))
    monkeypatch.setattr(programs, "_loaded", {})
    return kept


def _plain(tree):
    """A Trajectory (a dataclass, not a pytree) as a dict; anything else as it is."""
    return vars(tree) if isinstance(tree, Trajectory) else tree


def _equal(a, b):
    a, b = [[_plain(x) for x in (t if isinstance(t, tuple) else (t,))] for t in (a, b)]
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b) and jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _direct(world, steps=6, every=2):
    """The run with its chunks called directly (no program kept)."""
    directory = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", "")
    try:
        return simulate(world, params_from(), KEY, steps, RunSpec(every=every))
    finally:
        jax.config.update("jax_compilation_cache_dir", directory)


def test_a_run_from_a_kept_program_equals_a_traced_run(world, cache):
    spec = RunSpec(every=2)
    first = simulate(world, params_from(), KEY, 6, spec)  # traces, keeps the program
    kept = sorted(cache.iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".exported"
    programs._loaded.clear()  # as a new process: the program comes from the file
    again = simulate(world, params_from(), KEY, 6, spec)
    assert sorted(cache.iterdir()) == kept
    direct = _direct(world)
    _equal(first, direct)
    _equal(again, direct)


@pytest.mark.slow  # (the batched launcher's tests compare its tables, through kept programs, with the basic launcher's)
def test_a_batch_from_a_kept_program_equals_a_traced_batch(world, cache):
    params = stack_params([params_from(), params_from({"trade_relax": 0.3})])
    keys = jax.random.split(KEY, 2)
    first = simulate_batch(world, params, keys, 6, RunSpec(every=2))
    assert len(list(cache.iterdir())) == 1
    programs._loaded.clear()
    _equal(simulate_batch(world, params, keys, 6, RunSpec(every=2)), first)  # (test_engine: a batch equals its runs)


def test_each_program_is_kept_under_its_own_key(world):
    """The key: the function, its static arguments, the inputs' structure, shapes and dtypes."""
    flat, tree = jax.tree.flatten((world, params_from(), KEY))
    key = lambda jitted=engine._run_chunk, spec=RunSpec(), every=2, flat=flat: programs._key(  # noqa: E731
        jitted, {"spec": spec, "samples": 3, "every": every}, tree, flat, "cpu")
    assert key() == key()
    others = [key(jitted=engine._run_chunk_batch), key(spec=RunSpec(sample_dyads=True)), key(every=1),
              key(flat=[np.zeros((7,) + np.shape(x), np.asarray(x).dtype) if i == 0 else x for i, x in enumerate(flat)])]
    assert len({key(), *others}) == 5
    with jax.default_matmul_precision("highest"):  # JAX's settings as they are at the call
        in_block = key()
    assert in_block != key()


def test_a_damaged_program_is_traced_again_and_replaced(world, cache):
    spec = RunSpec(every=2)
    first = simulate(world, params_from(), KEY, 6, spec)
    (path,) = cache.iterdir()
    path.write_bytes(b"not a program")
    programs._loaded.clear()
    _equal(simulate(world, params_from(), KEY, 6, spec), first)
    assert path.read_bytes() != b"not a program"


def test_without_a_compile_cache_nothing_is_kept(world, cache):
    jax.config.update("jax_compilation_cache_dir", "")
    simulate(world, params_from(), KEY, 6, RunSpec(every=2))
    assert not cache.exists() or not any(cache.iterdir())


def test_the_key_holds_the_sources(tmp_path, monkeypatch):
    """An edit to any of diplosim's source files makes every program a new one."""
    package = tmp_path / "diplosim"
    (package / "mechanisms").mkdir(parents=True)
    (package / "programs.py").write_text("")
    source = package / "mechanisms" / "trade.py"
    source.write_text("RATE = 0.1\n")
    monkeypatch.setattr(programs, "__file__", str(package / "programs.py"))
    before = programs._environment.__wrapped__()
    source.write_text("RATE = 0.2\n")
    assert programs._environment.__wrapped__() != before


def test_the_key_holds_whether_the_program_is_the_gpus(monkeypatch):
    """The GPU's program (loops unrolled, sums in blocks: ``world.gpu_program``) and the CPU's are kept apart."""
    from diplosim import world as world_module

    flat = [np.zeros(3, np.float32)]
    keys = []
    for unroll in (False, True):
        monkeypatch.setattr(world_module, "GPU_PROGRAM", unroll)
        keys.append(programs._key(engine._run_chunk, {"every": 1}, "tree", flat, "cpu"))
    assert keys[0] != keys[1]


def test_runs_use_the_kept_programs(world, cache, monkeypatch):
    """engine's chunk programs go through programs.call (else nothing would be kept)."""
    calls = []
    real = programs.call
    monkeypatch.setattr(programs, "call", lambda jitted, *a, **k: calls.append(jitted) or real(jitted, *a, **k))
    simulate(world, params_from(), KEY, 6, RunSpec(every=2))
    assert calls and all(c is engine._run_chunk for c in calls)


def test_a_program_that_cannot_be_exported_runs_as_traced(world, cache, monkeypatch):
    """Where jax.export fails (a platform it cannot name, say), the run is the plain jitted call."""
    def refuse(*args, **kwargs):
        raise RuntimeError("cannot export here")

    monkeypatch.setattr(jax.export, "export", refuse)
    ran = simulate(world, params_from(), KEY, 6, RunSpec(every=2))
    assert not cache.exists() or not any(cache.iterdir())
    assert list(programs._loaded.values()) == [None]
    _equal(ran, _direct(world))


# --- memory maps: compiled programs released before the process runs out -------------


def _fresh_step():
    """The step, jitted with a cache of its own: ``jax.jit`` of the same function shares one
    cache between wrappers, so ``jax.jit(engine.step)`` counts what other tests compiled."""
    return jax.jit(lambda world, params, key: engine.step(world, params, key))


@pytest.mark.skipif(programs._maps_in_use() is None, reason="counts /proc/self/maps (Linux)")
def test_compiled_programs_are_released_when_the_maps_run_short(world, monkeypatch):
    """A compiled step holds hundreds of memory maps; released, they go back to the kernel and the
    next call compiles again (a process that hit vm.max_map_count died inside XLA)."""
    step = _fresh_step()
    step(world, params_from(), KEY)
    held = programs._maps_in_use()
    assert not programs.release_when_crowded()  # this process is far from the limit: kept
    assert step._cache_size() == 1
    monkeypatch.setattr(programs, "_map_limit", lambda: held)  # as if it held all the maps it may
    assert programs.release_when_crowded()
    assert step._cache_size() == 0
    assert programs._maps_in_use() < held - 100


def test_without_proc_nothing_is_released(world, monkeypatch):
    step = _fresh_step()
    step(world, params_from(), KEY)
    monkeypatch.setattr(programs, "_maps_in_use", lambda: None)
    assert not programs.release_when_crowded()
    assert step._cache_size() == 1


def test_runs_release_programs_first_when_crowded(world, monkeypatch):
    """engine's runs check before they compile (the long-lived process is a multirun or a notebook)."""
    spec = RunSpec(mechanisms=EVENTS_ONLY)
    monkeypatch.setattr(programs, "_map_limit", lambda: 2)
    before = simulate(world, params_from(), KEY, 3, spec)
    step = _fresh_step()
    step(world, params_from(), KEY)
    after = simulate(world, params_from(), KEY, 3, spec)
    assert step._cache_size() == 0  # released by the second run
    _equal(after, before)


@pytest.mark.slow  # 15 s: the default suite took 585 s on the CI machine (2026-11-28)
def test_a_large_world_handed_on_from_a_kept_program_is_the_same_run(world, cache, monkeypatch):
    """A world that carries its position distance (threshold patched to 0) hands the world and the
    distance on from chunk to chunk (donated): the kept programs, loaded, donate them too (their
    buffers are taken over), the caller's world stays usable, and the run equals the direct one."""
    from diplosim import world as W

    monkeypatch.setattr(W, "CARRY_DISTANCE_FROM", 0)
    first = simulate(world, params_from(), KEY, 6, RunSpec(every=2))
    assert len(list(cache.iterdir())) == 3  # the world's copy, the distance and the chunk
    programs._loaded.clear()  # as a new process: from the files
    again = simulate(world, params_from(), KEY, 6, RunSpec(every=2))
    assert sorted(donated for _, donated in programs._loaded) == [0, 0, len(jax.tree.leaves(world)) + 3]  # + the distance's
    handed = next(program for (_, donated), program in programs._loaded.items() if donated)[0]
    inputs = (jax.tree.map(jax.numpy.copy, world), engine._distance_of(world), params_from(), KEY)
    handed(*jax.tree.leaves(inputs))
    assert all(leaf.is_deleted() for leaf in jax.tree.leaves(inputs[:2]))  # taken over
    assert not any(leaf.is_deleted() for leaf in jax.tree.leaves(world))
    direct = _direct(world)
    _equal(first, direct)
    _equal(again, direct)
