"""Memory safety: a world too large for its device is refused, before allocation, in one line."""

import jax
import pytest

from diplosim import memory
from diplosim import world as world_module
from diplosim.engine import RunSpec, _run_chunk
from diplosim.mechanisms.trade import calibrate_trade
from diplosim.params import params_from
from diplosim.scenario import synthetic_scenario
from reliability.runs import run_diplosim, subprocess_env


def test_world_bytes_matches_a_generated_world():
    world = synthetic_scenario(3000, 6, n_issues=4, n_envoys=10).world
    actual = sum(leaf.nbytes for leaf in jax.tree.leaves(world))
    estimate = memory.world_bytes(world.n_states, world.n_dyads, n_issues=4, n_envoys=10)
    assert abs(estimate - actual) <= 0.02 * actual


@pytest.mark.parametrize("gpu_program", [False, True])
def test_run_estimate_covers_what_xla_plans_for_a_step(monkeypatch, gpu_program):
    """Above what XLA plans, and not far above, for the CPU's program and the GPU's (``world.gpu_program``)."""
    monkeypatch.setattr(world_module, "GPU_PROGRAM", gpu_program)
    params = params_from()
    world = calibrate_trade(synthetic_scenario(5000, n_envoys=5).world, params)
    jax.clear_caches()  # GPU_PROGRAM is read while tracing, and is not in jit's key
    try:
        compiled = _run_chunk.lower(world, params, jax.random.key(0), spec=RunSpec(), samples=4, every=1).compile()
    finally:
        jax.clear_caches()  # no trace of this choice left for the tests after
    plan = compiled.memory_analysis()
    planned = plan.argument_size_in_bytes + plan.output_size_in_bytes + plan.temp_size_in_bytes
    estimate = memory.run_bytes(memory.world_bytes(world.n_states, world.n_dyads, n_envoys=5), platform="gpu")  # XLA's plan alone
    assert planned <= estimate and estimate - memory.OVERHEAD <= 1.5 * planned


def test_check_fits_names_the_estimate_and_the_limit(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: (2 * memory.GIB, "free on a small GPU"))
    with pytest.raises(memory.MemoryTooLarge) as refused:
        memory.check_fits(3 * memory.GIB, jax.devices("cpu")[0], what="scenario.n_states = 7")
    assert str(refused.value) == "scenario.n_states = 7: needs about 3.0 GiB, 2.0 GiB free on a small GPU; use a smaller world"
    memory.check_fits(1 * memory.GIB, jax.devices("cpu")[0], what="fits")


def test_too_large_synthetic_world_is_refused_before_it_is_generated(tmp_path):
    # 2.1 x 10^9 dyads, about 100 GB: refused in seconds, without generating anything
    done = run_diplosim("scenario=synthetic", "scenario.n_states=50000000", "scenario.dyads_per_state=42",
                        f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, timeout=120)
    assert done.code == 2
    assert len(done.err_lines) == 1, done.err
    line = done.err_lines[0]
    assert "scenario.n_states = 50000000" in line and "needs about" in line and "GiB" in line and "available" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # a run of the diplosim command, measured
def test_the_estimate_on_a_cpu_covers_the_whole_process(tmp_path):
    """On a CPU the run's memory is the process's: the diplosim command's peak resident memory for a
    small synthetic world, its states and dyads sampled every step, is under ``run_bytes`` for the CPU
    (which adds ``HOST_OVERHEAD``), and over the device's estimate of the same world (the process around
    the world is most of it)."""
    import subprocess
    import sys

    measure = (  # the peak of the command's process, from a process of its own (no other child counted)
        "import resource, subprocess, sys; "
        "done = subprocess.run([sys.executable, '-m', 'diplosim', *sys.argv[1:]], capture_output=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
    )
    done = subprocess.run([sys.executable, "-c", measure, "scenario=synthetic", "scenario.n_states=3000",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=subprocess_env(None),
                          capture_output=True, text=True, timeout=300)
    code, peak = (int(x) for x in done.stdout.split())
    assert code == 0, done.stderr[-2000:]
    size = memory.world_bytes(3000, 30000, n_envoys=4)
    assert memory.run_bytes(size, platform="gpu") < peak <= memory.run_bytes(size, platform="cpu")
