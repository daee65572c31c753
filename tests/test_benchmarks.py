"""``benchmarks/profile.py`` reads JAX's profiler trace back, whose format changes between JAX versions:
it must still attribute the step's kernels to the mechanisms, for a single world and for
``simulate_batch`` (``--batch``), or a GPU visit comes back with an empty profile."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _user_runs(script: Path, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``script`` run as a user would, on the CPU, within ``timeout`` seconds; past it, its whole process group
    is killed (a check that let a bad option through would start measuring, in children of its own)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    command = ["bash", str(script)] if script.suffix == ".sh" else [sys.executable, str(script)]
    with subprocess.Popen([*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _script(name: str, *args: str) -> None:
    """Run ``benchmarks/<name>.py`` with ``args`` on the CPU, as a user would (``_user_runs``); it must succeed."""
    done = _user_runs(ROOT / f"benchmarks/{name}.py", *args, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow  # 11 s each: the default suite is near its 10 minutes on the CI machine (629 s, 2026-11-27)
@pytest.mark.parametrize("mode, name", [(["--states", "300"], "profile_cpu_300.md"), (["--batch", "3"], "profile_cpu_batch.md")])
def test_profile_attributes_the_kernels_to_mechanisms(tmp_path, mode, name):
    _script("profile", *mode, "--steps", "2", "--top", "40", "--results", str(tmp_path))
    text = (tmp_path / name).read_text()
    timed = float(re.search(r"operations timed: ([\d.]+) ms per step \((\d+) distinct", text).group(1))
    assert timed > 0
    table = text.split("## By mechanism\n", 1)[1].split("##", 1)[0]
    mechanisms = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    assert {"tension", "trade", "decisions"} <= mechanisms, table
    if "--batch" in mode:
        assert "simulate_batch" in text.splitlines()[0] and "3 runs of the Alaska scenario" in text


def _xspace(streams: dict[str, list[tuple[str, int, int]]], host: list[tuple[str, int, int]]):
    """A profiler trace with one GPU: per stream line its (name, start_us, duration_us) activities,
    and one host thread's events."""
    import jax

    names = sorted({n for events in [*streams.values(), host] for n, _, _ in events})
    ids = {n: i + 1 for i, n in enumerate(names)}
    metadata = "".join(f'event_metadata {{ key: {i} value {{ id: {i} name: "{n}" }} }}\n' for n, i in ids.items())

    def line(number, name, events):
        body = "".join(f"events {{ metadata_id: {ids[n]} offset_ps: {s * 1_000_000} duration_ps: {d * 1_000_000} }}\n"
                       for n, s, d in events)
        return f'lines {{ id: {number} name: "{name}" timestamp_ns: 0\n{body}}}\n'

    device = "".join(line(i + 1, name, events) for i, (name, events) in enumerate(streams.items()))
    text = (f'planes {{ id: 1 name: "/device:GPU:0"\n{device}{metadata}}}\n'
            f'planes {{ id: 2 name: "/host:CPU"\n{line(1, "python3", host)}{metadata}}}\n')
    return jax.profiler.ProfileData.from_serialized_xspace(jax.profiler.ProfileData.text_proto_to_serialized_xspace(text))


def _profile_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_profile", ROOT / "benchmarks/profile.py")  # not the stdlib's profile
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_instructions_include_multi_output_fusions():
    """A GPU's costliest kernels are multi-output fusions, whose shape is a tuple: the profile named
    none of them (3.1 of the 6.1 ms a step the H200 was busy), until the pattern read tuples."""
    hlo = "\n".join([
        '  %loop_add_clamp_compare_multiply_fusion = (f32[10]{0}, pred[10]{0}) fusion(f32[10]{0} %p.1), kind=kLoop, '
        'calls=%fused, metadata={op_name="jit(_chunk)/while/body/alliances/jit(clip)/min"}',
        '  ROOT %input_scatter_fusion_31 = f32[4]{0} fusion(f32[10]{0} %p.2), kind=kInput, metadata={op_name="jit(_chunk)/trade/scatter-add"}',
        '  %while.3 = ((s32[], f32[10]{0}), f32[4]{0:T(128)}) while(%tuple.1), condition=%cond, body=%body',
    ])
    found = _profile_module().instructions(hlo, {"alliances", "trade"})
    assert found["loop_add_clamp_compare_multiply_fusion"] == ("fusion", "alliances", "jit(_chunk)/while/body/alliances/jit(clip)/min")
    assert found["input_scatter_fusion_31"][:2] == ("fusion", "trade")
    assert found["while.3"][0] == "while"


def test_timeline_counts_busy_and_idle_time_and_every_activity():
    timeline = _profile_module().timeline

    # two steps of 100 us: a kernel, a copy overlapping it on another stream, a 30 us wait, a kernel
    streams = {"Stream #1(Compute)": [("fusion_1", 0, 50), ("fusion_2", 80, 20), ("fusion_1", 100, 50), ("fusion_2", 180, 20)],
               "Stream #2(MemcpyD2D)": [("memcpy32_post", 40, 20), ("memcpy32_post", 140, 20)]}
    lines = timeline(_xspace(streams, [("block_until_ready", 0, 200)]), steps=2, top=10)
    text = "\n".join(lines)
    assert "(kernels and copies, `6` in 2 steps: 3 a step)" in text
    assert "0.1 ms a step, busy 0.08 ms, idle 0.02 ms in 1 gaps a step" in text  # 0-60 and 80-100 busy in each step
    assert "| memcpy32_post | fusion_2 | 1.0 | 0.02 | 20.0 |" in text  # the gap, between the copy and the next kernel
    assert "| fusion_1 | 0.05 | 1.0 |" in text and "| memcpy32_post | 0.02 | 1.0 |" in text
    assert "| python3 | 0.1 | block_until_ready | 0.1 | 0.5 |" in text
    assert timeline(_xspace({}, [("x", 0, 1)]), steps=1) == []  # a CPU's trace: no stream lines


@pytest.mark.slow  # 30 s: three programs of the full model
def test_variants_are_patched_in_and_compared_with_the_baseline(tmp_path):
    """Each variant is traced with its patch (the GPU's program adds in another order: a small
    difference, not none; the threats gathered in rows do the same arithmetic: none), the baseline is
    the reference of its own row, and each variant's optimised program is written where asked."""
    import gzip

    _script("variants", "--states", "300", "--rounds", "1", "--calls", "1", "--variants", "baseline", "gpu_program",
            "threats_in_rows", "--results", str(tmp_path), "--programs", str(tmp_path / "programs"))
    rows = list(csv.DictReader((tmp_path / "variants.csv").open()))
    assert [r["variant"] for r in rows] == ["baseline", "gpu_program", "threats_in_rows"] and rows[0]["states"] == "300"
    assert float(rows[0]["over_baseline"]) == 1.0 and float(rows[0]["max_rel_diff"]) == 0.0
    assert 0.0 < float(rows[1]["max_rel_diff"]) < 1e-3 and float(rows[1]["median_ms"]) > 0
    assert float(rows[2]["max_rel_diff"]) == 0.0
    assert "| gpu_program |" in (tmp_path / "variants.md").read_text()
    with gzip.open(tmp_path / "programs/threats_in_rows_300.hlo.txt.gz", "rt") as file:
        text = file.read()
    assert text.startswith("HloModule") and re.search(r"gather\(.*slice_sizes=\{1,8\}", text)


def test_every_variant_patches_a_name_the_model_has():
    """Each variant of ``variants.py`` enters and leaves its patch: a renamed function of the model fails here
    (``_patched`` reads the name before replacing it), not on a GPU visit.  The names come back as they were."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import variants

    from diplosim import world
    from diplosim.mechanisms import alliances

    reverse_trust, program = alliances.reverse_trust, world.GPU_PROGRAM
    for patch in variants.VARIANTS.values():
        with patch():
            pass
    with variants.VARIANTS["trust_back_apart"]():
        assert alliances.reverse_trust is not reverse_trust
    assert alliances.reverse_trust is reverse_trust and world.GPU_PROGRAM is program


def test_scatters_times_each_reduction_marked_and_not(tmp_path):
    _script("scatters", "--states", "300", "--repeats", "2", "--results", str(tmp_path))
    rows = (tmp_path / "scatters.csv").read_text().splitlines()[1:]
    assert len(rows) == 1 + 5 * 2  # the pass, then five kinds of indices by two reductions
    table = (tmp_path / "scatters.md").read_text()
    for reduction in ("segment_sum", "segment_max"):
        for indices in ("destination (sorted)", "energy routes by buyer (sorted)", "energy routes by seller", "uniformly random"):
            line = next(x for x in table.splitlines() if f"| {reduction} | {indices} |" in x)
            marked, unmarked, ratio = [cell.strip() for cell in line.strip()[1:-1].split("|")][-3:]
            assert float(unmarked) > 0
            if "(sorted)" in indices:  # only sorted indices may be marked so
                assert float(marked) > 0 and float(ratio) > 0
            else:
                assert marked == ratio == ""


def test_gathers_times_each_table_and_index_against_the_plain_pass(tmp_path):
    _script("gathers", "--states", "300", "--repeats", "2", "--results", str(tmp_path))
    with (tmp_path / "gathers.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["table"], r["indices"]) for r in rows] == [
        ("none (the plain pass)", ""), ("state", "dst (sorted)"), ("state", "src (random)"),
        ("dyad", "reverse (random)"), ("dyad", "e ^ 1 (dyads in pairs)")]
    plain = float(rows[0]["ms"])
    for row in rows[1:]:  # each row's own time less the plain pass's
        assert float(row["ms"]) > 0 and abs(float(row["over_pass_ms"]) - (float(row["ms"]) - plain)) < 2e-3
    assert float(rows[3]["table_mb"]) > 5 * float(rows[1]["table_mb"]) > 0  # about 10 dyads a state
    assert "| dyad | reverse (random) |" in (tmp_path / "gathers.md").read_text()


def test_program_census_counts_the_loop_body():
    """On a hand-written program: the scan's body is found, and each column counts what it says."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from program import census

    text = """HloModule m

%small_body (p: (s32[], f32[7])) -> (s32[], f32[7]) {
  %p = (s32[], f32[7]{0}) parameter(0)
  ROOT %t = (s32[], f32[7]{0}) tuple(%i, %x)
}

%body (arg: (s32[], f32[7], s32[7], s32[7])) -> (s32[], f32[7], s32[7], s32[7]) {
  %arg = (s32[], f32[7]{0}, s32[7]{0}, s32[7]{0}) parameter(0)
  %src = s32[7]{0} get-tuple-element(%arg), index=2
  %dst = s32[7]{0} get-tuple-element(%arg), index=3
  %x = f32[7]{0} get-tuple-element(%arg), index=1
  %copy.1 = f32[7]{0} copy(%x)
  %fusion.1 = f32[7]{0} fusion(%copy.1, %src), kind=kLoop, calls=%f
  %small = f32[3]{0} copy(%fusion.1)
  ROOT %out = (s32[], f32[7]{0}, s32[7]{0}, s32[7]{0}) tuple(%i, %fusion.1, %src, %dst)
}

ENTRY %main (a: (s32[], f32[7], s32[7], s32[7])) -> (s32[], f32[7], s32[7], s32[7]) {
  %a = (s32[], f32[7]{0}, s32[7]{0}, s32[7]{0}) parameter(0)
  %w0 = (s32[], f32[7]{0}) while(%b), condition=%c, body=%small_body
  ROOT %w = (s32[], f32[7]{0}, s32[7]{0}, s32[7]{0}) while(%a), condition=%cond, body=%body
}
"""
    got = census(text, n_dyads=7, scale=1e9)
    # copy.1: 28 + 28 bytes; fusion.1: 28 out + 28 + 28 in; small: 12 + 28 (get-tuple-element, tuple: none)
    assert got == {"copies": 1, "index_arrays": 2, "instructions": 8, "traffic_gb": 28 + 28 + 84 + 40}


def test_program_counts_the_gathers_under_the_loop_body_by_their_table():
    """Gathers of dyad length (7) in the body's fusions and in a branch it calls, by table: of states
    (3 rows, or bins of two per state) or of dyads; a gather the body does not reach (hoisted out
    of the loop) and one of another length are not counted."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from program import computations, gathers

    text = """HloModule m

%f (p0: f32[3], p1: s32[7], p2: f32[7]) -> f32[7] {
  %p0 = f32[3]{0} parameter(0)
  %p1 = s32[7]{0} parameter(1)
  %p2 = f32[7]{0} parameter(2)
  %g1 = f32[7,1]{1,0} gather(%p0, %p1), offset_dims={1}, slice_sizes={1}
  %g2 = f32[7]{0} gather(%p2, %p1), offset_dims={}, slice_sizes={1}
  %g3 = f32[2]{0} gather(%p2, %p1), offset_dims={}, slice_sizes={1}
  ROOT %a = f32[7]{0} add(%g1, %g2)
}

%b1 (q0: f32[6], q1: s32[7]) -> f32[7] {
  %q0 = f32[6]{0} parameter(0)
  %q1 = s32[7]{0} parameter(1)
  ROOT %g4 = f32[7]{0} gather(%q0, %q1), offset_dims={}, slice_sizes={1}
}

%b2 (r0: f32[7]) -> f32[7] {
  ROOT %r0 = f32[7]{0} parameter(0)
}

%hoisted (h0: f32[3], h1: s32[7]) -> f32[7] {
  %h0 = f32[3]{0} parameter(0)
  %h1 = s32[7]{0} parameter(1)
  ROOT %g5 = f32[7]{0} gather(%h0, %h1), offset_dims={}, slice_sizes={1}
}

%body (arg: (s32[], f32[7])) -> (s32[], f32[7]) {
  %arg = (s32[], f32[7]{0}) parameter(0)
  %fusion.1 = f32[7]{0} fusion(%s, %i, %x), kind=kLoop, calls=%f
  %c = f32[7]{0} conditional(%k, %s, %x), branch_computations={%b1, %b2}
  ROOT %out = (s32[], f32[7]{0}) tuple(%i, %fusion.1)
}
"""
    assert gathers(computations(text), "body", n_states=3, n_dyads=7) == {"state_gathers": 2, "dyad_gathers": 1}


def test_program_writes_its_census_of_the_compiled_step(tmp_path):
    _script("program", "--states", "300", "--label", "test", "--results", str(tmp_path))
    with (tmp_path / "program.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["label"] == "test" and int(row["states"]) == 300
    # the networks' src, dst and reverse at least; not a copy of an index array per gather (ROOFLINE, change 18)
    assert 3 <= int(row["index_arrays"]) <= 8, row
    assert int(row["instructions"]) > 100 and float(row["traffic_gb"]) > 1.29  # above the floor of a step
    # the states' values at both ends of the dyads, and the reverses (alliance, sanctions, trust, ...)
    assert int(row["state_gathers"]) >= 10 and int(row["dyad_gathers"]) >= 3, row
    assert "| test |" in (tmp_path / "program.md").read_text()


def _suite():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import suite

    return suite


def test_the_bandwidth_probe_writes_into_the_memory_it_reads():
    """A pass into a fresh array times the kernel mapping new pages (6 GB/s on the 2-core CPU, where
    the in-place pass reads about 50): the floor would be 8 times too high (ROOFLINE, "The floor")."""
    import jax.numpy as jnp

    suite = _suite()
    header = suite.in_place_pass().lower(jnp.ones(1024, jnp.float32)).compile().as_text().splitlines()[0]
    assert "input_output_alias={ {}: (0, {}" in header, header
    assert suite.bandwidth_gbs(megabytes=8, repeats=2) > 0


def test_results_written_with_older_columns_are_written_again_with_the_new(tmp_path):
    suite = _suite()
    path = tmp_path / "suite.csv"
    path.write_text("date,step_ms\n2026-11-26,940.0\n")
    rows = suite.append_rows(path, ["date", "step_ms", "probe"], [{"date": "2026-11-27", "step_ms": 0, "probe": "in place"}])
    assert rows == [{"date": "2026-11-26", "step_ms": "940.0", "probe": ""},
                    {"date": "2026-11-27", "step_ms": "0", "probe": "in place"}]
    assert path.read_text().splitlines()[0] == "date,step_ms,probe"
    rows = suite.append_rows(path, ["date", "step_ms", "probe"], [{"date": "2026-11-28"}])  # same columns: appended
    assert [r["date"] for r in rows] == ["2026-11-26", "2026-11-27", "2026-11-28"] and rows[-1]["probe"] == ""


def test_the_arithmetic_probe_runs_in_place_and_counts_its_operations():
    """The compute side of the roofline: the probe's pass writes into its input's memory, XLA counts
    its operations (at least the multiply-adds and hash rounds it was written with), and the rate
    comes out positive."""
    import jax.numpy as jnp

    suite = _suite()
    compiled = suite.arithmetic_pass(chains=2, rounds=3).lower(jnp.ones(1024, jnp.float32)).compile()
    assert "input_output_alias={ {}: (0, {}" in compiled.as_text().splitlines()[0]
    assert suite.operations(compiled) >= 1024 * 2 * 3 * (2 + 5)  # per element: 2 chains x 3 rounds x (2 + 5)
    assert suite.ops_rate_gs(elements=2**14, repeats=2) > 0


def test_a_step_counts_hundreds_of_operations_per_dyad():
    """``step_operations`` counts the scan's body: the hash of each dyad's draws alone is over a
    hundred operations a dyad, so a count of a few per dyad would mean the body went uncounted."""
    suite = _suite()
    world, params, spec = suite.step_world(300)
    per_dyad = suite.step_operations(world, params, spec) * 1e9 / world.n_dyads
    assert 100 < per_dyad < 10_000, per_dyad


def test_the_step_rows_run_the_chunk_as_simulate_does(monkeypatch):
    """``step_program``: where the engine carries the position distance, the timed chunk takes it
    computed before the call (``_run_chunk_carrying``), as ``simulate`` does once a run, instead of
    computing it at the chunk's start; the world, rows and snapshots are the same bit for bit."""
    import jax
    import numpy as np

    import diplosim.world as W

    suite = _suite()
    world, params, spec = suite.step_world(300)
    key = jax.random.key(0)
    small = suite.step_program(world, params, key, spec, 3)
    assert not small.carried and len(small.args) == 3
    monkeypatch.setattr(W, "CARRY_DISTANCE_FROM", 0)
    jax.clear_caches()
    large = suite.step_program(world, params, key, spec, 3)
    assert large.carried and isinstance(large.args[1], W.DistanceCache)
    assert small.compiled.as_text().startswith("HloModule jit__chunk,")
    assert large.compiled.as_text().startswith("HloModule jit__chunk_carrying,")
    plain = small.outputs(small.compiled(*small.args))
    carried = large.outputs(large.compiled(*large.args))
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(carried), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_dyads_in_pairs_keeps_every_dyad_and_what_points_at_it():
    """``variants.in_pairs``: the same dyads, each next to its reverse (``reverse`` = ``e ^ 1``),
    and every dyad index of the world (envoys, schedule, watched dyads, energy routes) still names
    the same (src, dst) pair and the same values."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from variants import in_pairs

    from diplosim.scenario import synthetic_scenario

    world = synthetic_scenario(200, n_envoys=8).world
    paired = in_pairs(world)
    d, p = world.dyads, paired.dyads
    n = d.src.shape[0]
    assert np.array_equal(np.asarray(p.reverse), np.arange(n) ^ 1)
    assert np.array_equal(np.asarray(p.src)[np.asarray(p.reverse)], np.asarray(p.dst))
    for field in ("trade", "tension", "alliance", "sanction"):  # each dyad's values go with it
        before = dict(zip(zip(np.asarray(d.src).tolist(), np.asarray(d.dst).tolist()), np.asarray(getattr(d, field)).tolist()))
        after = dict(zip(zip(np.asarray(p.src).tolist(), np.asarray(p.dst).tolist()), np.asarray(getattr(p, field)).tolist()))
        assert before == after and len(after) == n, field

    def pairs(w, index):  # row by row, in the order of the array that holds the indices
        index = np.asarray(index)
        index = index[index < n]
        return list(zip(np.asarray(w.dyads.src)[index].tolist(), np.asarray(w.dyads.dst)[index].tolist()))

    for get in (lambda w: w.envoys.dyad, lambda w: w.events.dyad, lambda w: w.watch):
        assert pairs(world, get(world)) == pairs(paired, get(paired)) and len(np.asarray(get(world)))
    assert np.array_equal(np.asarray(p.src)[np.asarray(paired.envoys.dyad)], np.asarray(paired.envoys.principal))
    # the energy routes are a set, kept ascending
    assert sorted(pairs(world, world.energy_dyads)) == sorted(pairs(paired, paired.energy_dyads))
    assert np.all(np.diff(np.asarray(paired.energy_dyads)) > 0)


def test_scaling_pairs_each_size_with_the_next_smaller_round_by_round():
    suite = _suite()
    common = {"date": "d", "machine": "m", "jax": "j", "backend": "cpu", "huge_pages": "yes"}

    def row(states, ms):
        return {**common, "states": states, "dyads": 10 * states, "step_ms": ms}

    rounds = [[row(10, 1.0), row(100, 12.0)], [row(10, 2.0), row(100, 20.0)], [row(10, 1.5)]]  # the last: 100 failed
    (found,) = suite.scaling(rounds)
    assert (found["states_from"], found["states_to"], found["dyads_ratio"], found["rounds"]) == (10, 100, 10.0, 2)
    assert found["median_ms_from"] == 1.5 and found["median_ms_to"] == 16.0 and found["ratio_of_medians"] == 10.67
    assert (found["median_of_ratios"], found["lowest_ratio"], found["highest_ratio"]) == (11.0, 10.0, 12.0)
    assert suite.scaling([[row(10, 1.0)]]) == []  # one size: nothing to compare


@pytest.mark.slow  # 4 worlds, each compiled in a process of its own
def test_suite_measures_the_sizes_in_turns_and_writes_their_scaling(tmp_path):
    _script("suite", "--sizes", "200", "400", "--rounds", "2", "--batches", "--steps", "2", "--repeats", "1",
            "--results", str(tmp_path))
    with (tmp_path / "suite.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["states"] for r in rows] == ["200", "400", "200", "400"]
    for r in rows:  # every figure of a step row, the roofline's two floors among them
        assert all(float(r[c]) > 0 for c in ("step_ms", "peak_mb", "floor_ms", "gops", "ops_rate_gs", "compute_floor_ms")), r
    with (tmp_path / "scaling.csv").open() as f:
        (found,) = list(csv.DictReader(f))
    assert (found["states_from"], found["states_to"], found["rounds"]) == ("200", "400", "2")
    assert float(found["median_of_ratios"]) > 0 and "| 200 | 400 |" in (tmp_path / "scaling.md").read_text()


def test_a_world_kept_in_the_folder_is_read_back_the_same(tmp_path, monkeypatch):
    """With ``DIPLOSIM_BENCH_WORLDS`` set, ``step_world`` builds a world once, keeps it there whole
    (no partial file left), and a later call reads it back, leaf for leaf, without building."""
    import jax
    import numpy as np

    import diplosim.scenario

    suite = _suite()
    monkeypatch.setenv("DIPLOSIM_BENCH_WORLDS", str(tmp_path / "worlds"))
    built = suite.step_world(300)[0]
    assert [p.name for p in (tmp_path / "worlds").iterdir()] == ["synthetic_300.pickle"]

    def no_building(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(diplosim.scenario, "synthetic_scenario", no_building)
    read = suite.step_world(300)[0]
    assert jax.tree.structure(read) == jax.tree.structure(built)
    for a, b in zip(jax.tree.leaves(built), jax.tree.leaves(read)):
        assert isinstance(b, jax.Array) and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", ["_by_seller_in_blocks", "_by_buyer_in_blocks"])
def test_the_market_sums_in_blocks_equal_the_scatter(name):
    """The energy market's candidate sums (``variants.py``) give a scatter's sums, exact for
    integers: a hub of many routes across blocks, states with none, a ragged end; by buyer the routes
    come sorted, by seller in no order."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import variants

    rng = np.random.default_rng(3)
    index = np.concatenate([np.full(150, 7), rng.integers(0, 40, 203)])  # state 7 a hub; 40..49 never
    if name == "_by_buyer_in_blocks":
        index = np.sort(index)
    else:
        rng.shuffle(index)
    values = jnp.asarray(rng.integers(-50, 50, index.size).astype(np.float32))
    index = jnp.asarray(index.astype(np.int32))
    got = getattr(variants, name)(values, index, 50)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.ops.segment_sum(values, index, 50)))


@pytest.mark.parametrize("option, value, allowed", [
    ("--sizes", "0", 11), ("--sizes", "10", 11), ("--batches", "-3", 1), ("--steps", "0", 1), ("--repeats", "x", 1),
    ("--rounds", "0", 1),
])
def test_a_bad_option_stops_the_suite_before_it_measures(tmp_path, option, value, allowed):
    """One line naming the option and what it allows, exit 2, nothing written: ``--sizes 0`` once ran the
    whole default suite (10^3 to 10^6 states) and wrote its rows into the repository's results.  (No
    sizes nor batches but the one tried: were the check gone, the run would measure nothing large.)"""
    cheap = [name for name in ("--sizes", "--batches") if name != option]  # each given no values
    done = _user_runs(ROOT / "benchmarks/suite.py", option, value, *cheap, "--results", str(tmp_path / "results"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == f"suite.py: error: argument {option}: {value}: must be a whole number >= {allowed}"
    assert not (tmp_path / "results").exists()


def test_a_world_size_that_fails_fails_the_run(tmp_path):
    """A size whose process fails (here its kept world is unreadable) is reported in each round, the
    others still measured, and the run's exit status says it failed, naming the size once."""
    worlds = tmp_path / "worlds"
    worlds.mkdir()
    (worlds / "synthetic_1000.pickle").write_bytes(b"not a world")
    done = _user_runs(ROOT / "benchmarks/suite.py", "--sizes", "1000", "--rounds", "2", "--batches",
                      "--results", str(tmp_path / "results"), env={"DIPLOSIM_BENCH_WORLDS": str(worlds)})
    assert done.returncode == 1
    assert done.stdout.count("size 1000: failed: ") == 2
    assert done.stderr.splitlines()[-1] == "suite.py: 1 world size(s) failed: 1000"


def test_the_sweep_benchmark_needs_fewer_seeds_first():
    """``--basic-seeds S1 S2`` extrapolates the basic launcher's time per job from S2 - S1: S1 >= S2 ends
    at once, not after the batched sweeps' minutes in a division by zero."""
    done = _user_runs(ROOT / "benchmarks/sweep.py", "--basic-seeds", "8", "8")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "sweep.py: error: argument --basic-seeds: 8 8: S1 must be less than S2"


def test_every_whole_number_option_of_the_benchmarks_is_checked():
    """No benchmark script takes a count as a bare ``int`` (0 or -1 would run, or start the default run):
    each uses ``suite.whole_number`` with its least value."""
    import ast

    bare = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                kind = next((k.value for k in node.keywords if k.arg == "type"), None)
                if isinstance(kind, ast.Name) and kind.id in ("int", "float"):
                    bare.append(f"{path.name}: {ast.unparse(node.args[0])}")
    assert bare == []
    from diplosim.scenario.schema import SyntheticSpec

    suite = _suite()  # SMALLEST_WORLD is the smallest world the benchmarks' synthetic spec accepts
    SyntheticSpec(n_states=suite.SMALLEST_WORLD)
    with pytest.raises(Exception, match="dyads_per_state"):
        SyntheticSpec(n_states=suite.SMALLEST_WORLD - 1)
    whole_number = suite.whole_number
    assert whole_number(1)("3") == 3 and whole_number(0)("0") == 0
    for text in ("0", "-2", "2.5", "", "ten"):
        with pytest.raises(Exception, match=f"^{re.escape(text)}: must be a whole number >= 1$"):
            whole_number(1)(text)


def test_the_gpu_script_stops_at_once_on_a_machine_without_a_gpu(tmp_path):
    """Where JAX sees no GPU and ``nvidia-smi`` lists none, ``gpu.sh`` says so and stops, before it makes
    ``.venv-gpu`` and installs the CUDA extra (gigabytes of wheels on a machine that cannot use them).
    The script runs from a copy, so that a check that let it through would install into the copy's folder."""
    (tmp_path / "benchmarks").mkdir()
    script = tmp_path / "benchmarks/gpu.sh"
    script.write_text((ROOT / "benchmarks/gpu.sh").read_text())
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed: no devices were found' >&2\nexit 9\n")
    (tools / "nvidia-smi").chmod(0o755)
    done = _user_runs(script, env={"PYTHON": sys.executable, "PATH": f"{tools}:{os.environ['PATH']}"})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("gpu.sh: no NVIDIA GPU on this machine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks", "bin"]  # no .venv-gpu
