"""engine.sharding = states: one world split across JAX devices gives the unsharded run's results.

JAX fixes the number of host (CPU) devices when it starts, from
``XLA_FLAGS=--xla_force_host_platform_device_count``; the test process has
already started JAX with one device, so each check runs this file as a script
in a fresh interpreter with four CPU devices and reads back a JSON report.

What the check found (JAX 0.10.2, CPU, 4 devices): the sharded run is not
bitwise equal to the unsharded one.  XLA adds up each device's block of
dyads and then the blocks' partial sums, so some float32 fields (gdp,
approval, power, growth, alliance, tension, the oil price, cohesion) differ
in the last bits: after 104 steps by at most 4e-6 relative, 1e-4 for growth,
a rate near zero.  Every integer and boolean output (agreement counts, the
event log, conflict, sanctions, channels, the step) and trade, oil flows and
trust counts are bitwise equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DEVICES = 4
RTOL, ATOL = 1e-5, 1e-5  # float32 fields: the sums over dyads are added in another order


def run_check(**kw) -> dict:
    """Run ``check(**kw)`` in a fresh interpreter with ``DEVICES`` CPU devices; its report."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(kw)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(name: str, unsharded, sharded, report: dict) -> None:
    """Record in ``report`` whether two outputs are bitwise equal and, if not, whether they are close."""
    a, b = np.asarray(unsharded), np.asarray(sharded)
    if a.shape != b.shape:
        report["mismatch"].append(f"{name}: shape {a.shape} != {b.shape}")
    elif np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
        report["bitwise"].append(name)
    elif a.dtype.kind != "f":
        report["mismatch"].append(f"{name}: integer or boolean values differ")
    elif not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
        report["mismatch"].append(f"{name}: differs by up to {np.nanmax(np.abs(a - b)):.3g}")
    else:
        worst = np.nanmax(np.abs(a - b) / np.maximum(np.abs(a), 1e-30))
        report["close"][name] = float(worst)


def check(n_states: int, steps: int, chunk_steps: int, guard: str = "off") -> dict:
    """Run one synthetic world unsharded and sharded; report how the results compare and how arrays lie."""
    import jax

    from diplosim import engine, sharding
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import params_from
    from diplosim.scenario import synthetic_scenario

    params = params_from({})
    world = calibrate_trade(synthetic_scenario(n_states, 6, n_envoys=4).world, params)
    key = jax.random.key(7)
    report: dict = {"devices": len(jax.devices()), "n_states": world.n_states, "n_dyads": world.n_dyads,
                    "bitwise": [], "close": {}, "mismatch": []}
    runs = {}
    for mode in ("off", "states"):
        spec = engine.RunSpec(sample_dyads=True, event_capacity=16, guard=guard, sharding=mode)
        runs[mode] = engine.simulate(world, params, key, steps, spec, chunk_steps=chunk_steps)
    (final_off, off), (final_on, on) = runs["off"], runs["states"]
    for table in ("metrics", "events", "states", "dyads"):
        for name, values in getattr(off, table).items():
            compare(f"{table}.{name}", values, getattr(on, table)[name], report)
    compare("sample_steps", off.sample_steps, on.sample_steps, report)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(final_off), jax.tree.leaves(final_on)):
        compare("final" + jax.tree_util.keystr(path), a, b, report)

    # how the arrays lie: the padded world, and the world and snapshots after one compiled chunk
    layout = sharding.layout_for(world)
    padded = sharding.shard_world(world, layout)
    samples, every = engine.chunk_plan(steps, 1, chunk_steps)[0]
    out = engine._run_chunk_sharded(  # the program simulate compiled: same arguments, no new compile
        padded, params, key, spec=spec, samples=samples, every=every, layout=layout, checked=guard == "stop"
    )
    after, _, snaps = out[1] if guard == "stop" else out  # checked: (error, outputs)
    blocks = lambda w: [*jax.tree.leaves(w.states), *jax.tree.leaves(w.dyads)]  # noqa: E731
    report["padded"] = [layout.padded_states, layout.padded_dyads]
    report["shard_rows"] = sorted({s.data.shape[0] for s in padded.dyads.trade.addressable_shards})
    report["input_split"] = all(sharding.is_split(x, layout) for x in blocks(padded))
    report["chunk_output_split"] = all(sharding.is_split(x, layout) for x in blocks(after))
    report["snapshots_split"] = all(
        len({repr(s.index) for s in x.addressable_shards}) == DEVICES for table in ("states", "dyads") for x in snaps[table].values()
    )
    report["others_copied"] = all(x.sharding.is_fully_replicated for x in jax.tree.leaves(padded.agreements))
    report["final_split"] = all(sharding.is_split(x, layout) for x in blocks(final_on))
    return report


def _assert_equal_runs(report: dict, padding: bool) -> None:
    assert report["devices"] == DEVICES
    assert report["mismatch"] == [], report["mismatch"]
    assert report["input_split"] and report["chunk_output_split"] and report["snapshots_split"]
    assert report["others_copied"]
    n_states, n_dyads = report["n_states"], report["n_dyads"]
    assert report["padded"] == [-(-n_states // DEVICES) * DEVICES, -(-n_dyads // DEVICES) * DEVICES]
    assert report["shard_rows"] == [report["padded"][1] // DEVICES]
    assert (report["padded"] != [n_states, n_dyads]) == padding
    # the discrete outputs are identical; only float32 rounding differs
    assert "events.kind" in report["bitwise"] and "metrics.agreements_in_force" in report["bitwise"]


@pytest.mark.slow  # 36 s: the default suite took 618 s on the CI machine (2026-11-28, twelfth session)
def test_sharded_run_with_padding_equals_the_unsharded_run():
    """1002 states: neither N nor E divides by 4, so both are padded; two chunks carry the padded world."""
    report = run_check(n_states=1002, steps=8, chunk_steps=4)
    _assert_equal_runs(report, padding=True)
    assert not report["final_split"]  # a padded world comes back gathered at its true size


@pytest.mark.slow
def test_sharded_long_run_without_padding_equals_the_unsharded_run():
    """1000 states, 104 steps, guard = stop: nothing padded, and the final world stays split."""
    report = run_check(n_states=1000, steps=104, chunk_steps=26, guard="stop")
    _assert_equal_runs(report, padding=False)
    assert report["final_split"]


def test_bad_sharding_value_is_one_line():
    from diplosim import sharding

    with pytest.raises(ValueError, match=r"^engine.sharding = 'gpus': allowed values are off, states$"):
        sharding.check_mode("gpus")


def test_batch_refuses_sharding(world):
    import jax

    from diplosim import engine
    from diplosim.params import params_from, stack_params

    params = stack_params([params_from({}), params_from({})])
    with pytest.raises(ValueError, match="engine.sharding = 'states' splits one world .* needs engine.sharding=off"):
        engine.simulate_batch(world, params, jax.random.split(jax.random.key(0), 2), 2, engine.RunSpec(sharding="states"))


def test_cli_rejects_a_bad_sharding_value(tmp_path):
    """Through the command line: exit status 2, one line naming the field and the allowed values, nothing left."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    done = subprocess.run(
        [sys.executable, "-m", "diplosim", "scenario=synthetic", "scenario.n_states=20", "engine.sharding=all",
         "engine.compile_cache=", "engine.progress=false", "output.plot=false"],
        cwd=tmp_path, env={**env, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "diplosim: error: engine.sharding = 'all': allowed values are off, states"
    assert list(Path(tmp_path).iterdir()) == []


def test_a_sharded_run_says_on_how_many_devices_it_ran(tmp_path):
    """The command's summary and the tables' metadata name the devices one world was split across."""
    from diplosim.io import read_metadata

    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "diplosim", "scenario=synthetic", "scenario.n_states=30", "steps=2", "engine.sharding=states",
         "engine.compile_cache=", "engine.progress=false", "output.plot=false", f"hydra.run.dir={tmp_path}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 steps in" in done.stdout and f"on {DEVICES} devices (engine.sharding=states)" in done.stdout, done.stdout
    meta = read_metadata(tmp_path / "metrics.parquet")
    assert meta["jax_devices"] == DEVICES and meta["jax_backend"] == "cpu"


if __name__ == "__main__":
    print(json.dumps(check(**json.loads(sys.argv[1]))))
