"""The same Alaska sweep with Hydra's basic launcher and with the batched launcher, side by side.

    .venv/bin/python benchmarks/sweep.py                       # 256 jobs: seed=range(64) x 4 values of
                                                                # dynamics.violation_rate, 104 steps
    .venv/bin/python benchmarks/sweep.py --basic-seeds 2 8     # the basic launcher on 8 and 32 of the jobs
    .venv/bin/python benchmarks/sweep.py --full-basic          # the basic launcher on all 256 jobs

Each sweep runs as a user runs it, ``python -m diplosim -m ...`` in a subprocess from an empty
working directory, with ``output.plot=false`` (a 256-job sweep is read as a dataset, not as 256
plots) and ``engine.progress=false``.  The XLA compile cache starts empty: a first basic sweep of
one seed compiles the single-run program (its row says ``cold``), the batched sweep runs twice,
the first time compiling its program; every other row runs with the programs in the cache.

The basic launcher takes about as long for every job, so unless ``--full-basic`` is given it runs
the first 4 x s1 and 4 x s2 jobs of the same sweep (``--basic-seeds s1 s2``) and the time of all
256 is extrapolated on the line through the two: ``est_256_s = t(n1) + (256 - n1) * per_job_s``,
``per_job_s = (t(n2) - t(n1)) / (n2 - n1)``.  The ratio is that estimate (or the measured full
run) over the batched launcher's warm wall time.  The script also checks that the batched
launcher's tables equal the basic launcher's for the jobs both ran.

Where the time goes, from the files the sweep writes: ``startup_s`` (process start to Hydra's
``multirun.yaml``), ``compose_s`` (to the batched launcher's plan: every job's config composed and
prepared), ``simulate_s`` (to the first job written: the ``simulate_batch`` calls), ``write_s``
(first to last job written: ``run_job`` and the tables, per job).

Rows are appended to ``benchmarks/results/sweep.csv``; ``benchmarks/results/sweep.md`` is
rewritten from it, with the machine, the JAX version and backend, and the date on each row.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suite import _common, arguments, record, whole_number  # noqa: E402  (machine, JAX version and backend, date)

RESULTS = Path(__file__).parent / "results"
COLUMNS = [
    "date", "machine", "jax", "backend", "launcher", "jobs", "steps", "compile_cache", "wall_s", "startup_s",
    "compose_s", "simulate_s", "write_s", "per_job_s", "est_256_s", "ratio", "note",
]
COEFFICIENT = "dynamics.violation_rate"
VALUES = ("0.02", "0.05", "0.1", "0.2")
FIXED = ("output.plot=false", "engine.progress=false")
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[HYDRA\] Batched launcher:", re.M)


def sweep(launcher: str, seeds: int, cache: Path, steps: int | None) -> dict:
    """Run ``seed=range(seeds)`` x ``VALUES`` with ``launcher`` in a fresh directory under ``cache``'s
    parent (removed at the end); times and where."""
    work = Path(tempfile.mkdtemp(prefix=f"{launcher}_", dir=cache.parent))
    argv = ["-m", f"hydra/launcher={launcher}", f"seed=range({seeds})", f"{COEFFICIENT}={','.join(VALUES)}", *FIXED]
    if steps is not None:
        argv.append(f"steps={steps}")
    env = {**os.environ, "DIPLOSIM_COMPILE_CACHE": str(cache)}
    started_wall, started = time.time(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "diplosim", *argv], cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmarks/sweep.py: diplosim {' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")
    (sweep_dir,) = (work / "outputs" / "sweeps").iterdir()
    written = [p for p in sweep_dir.iterdir() if p.name.isdigit() and (p / "events.parquet").exists()]
    jobs = len(written)
    assert jobs == seeds * len(VALUES), f"{jobs} jobs written, {seeds * len(VALUES)} expected"
    first = min(p.joinpath(".hydra", "config.yaml").stat().st_mtime for p in written)
    last = max(p.joinpath("events.parquet").stat().st_mtime for p in written)
    begun = (sweep_dir / "multirun.yaml").stat().st_mtime
    row = {"launcher": launcher, "jobs": jobs, "wall_s": round(wall, 2), "startup_s": round(begun - started_wall, 2),
           "write_s": round(last - first, 2), "sweep_dir": sweep_dir}
    planned = LOG_TIME.search(done.stdout)
    if planned:
        at = datetime.datetime.strptime(planned.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        row.update(compose_s=round(at - begun, 2), simulate_s=round(first - at, 2))
    print(f"{launcher}: {jobs} jobs in {wall:.1f} s", flush=True)
    return row


def check_equal(basic_dir: Path, batched_dir: Path, jobs: int) -> None:
    """The batched launcher's metrics equal the basic launcher's, job by job (float32 rounding)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i in range(jobs):
        a, b = (pq.read_table(d / str(i) / "metrics.parquet") for d in (basic_dir, batched_dir))
        assert a.column("run_id").equals(b.column("run_id")), f"job {i}: different runs"
        for name in a.column_names:
            if pa.types.is_floating(a.schema.field(name).type):
                np.testing.assert_allclose(a.column(name).to_numpy(), b.column(name).to_numpy(), rtol=1e-5, atol=1e-5,
                                           err_msg=f"job {i}: {name}")
    print(f"batched = basic for the {jobs} jobs both ran", flush=True)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seeds", type=whole_number(1), default=64, help="seeds of the sweep (x 4 coefficient values; 64: 256 jobs)")
    parser.add_argument("--basic-seeds", type=whole_number(1), nargs=2, default=[2, 8], metavar=("S1", "S2"),
                        help="the basic launcher runs the first 4 x S1 and 4 x S2 jobs; 256 are extrapolated")
    parser.add_argument("--full-basic", action="store_true", help="run the basic launcher on every job instead")
    parser.add_argument("--steps", type=whole_number(1), help="steps per run (default: the config's, 104)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where sweep.csv and sweep.md go")
    args = parser.parse_args()
    if not args.basic_seeds[0] < args.basic_seeds[1]:  # the time per job is extrapolated from the difference
        parser.error(f"argument --basic-seeds: {args.basic_seeds[0]} {args.basic_seeds[1]}: S1 must be less than S2")
    common = _common()
    total = args.seeds * len(VALUES)
    steps = args.steps if args.steps is not None else 104
    rows = []
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as scratch:
        cache = Path(scratch) / "xla"
        warm_up = sweep("basic", 1, cache, args.steps)
        rows.append({**warm_up, "compile_cache": "cold", "note": "compiles the single-run program"})
        batched_cold = sweep("batched", args.seeds, cache, args.steps)
        rows.append({**batched_cold, "compile_cache": "cold", "note": "compiles the batched program"})
        batched = sweep("batched", args.seeds, cache, args.steps)
        rows.append({**batched, "compile_cache": "warm"})
        if args.full_basic:
            basic = sweep("basic", args.seeds, cache, args.steps)
            estimate, note = basic["wall_s"], "all jobs measured"
            rows.append({**basic, "compile_cache": "warm", "per_job_s": round(basic["write_s"] / max(1, total - 1), 3),
                         "est_256_s": estimate if total == 256 else "", "note": note})
            check_equal(basic["sweep_dir"], batched["sweep_dir"], total)
        else:
            small, large = (sweep("basic", s, cache, args.steps) for s in args.basic_seeds)
            per_job = (large["wall_s"] - small["wall_s"]) / (large["jobs"] - small["jobs"])
            estimate = round(small["wall_s"] + (total - small["jobs"]) * per_job, 1)
            note = f"subset of the {total}-job sweep; est_{total}_s extrapolated from the {small['jobs']}- and {large['jobs']}-job runs"
            for measured in (small, large):
                rows.append({**measured, "compile_cache": "warm", "per_job_s": round(per_job, 3), "est_256_s": estimate,
                             "note": note})
            check_equal(large["sweep_dir"], batched["sweep_dir"], min(large["jobs"], total))
    ratio = round(estimate / batched["wall_s"], 1)
    rows[2].update(est_256_s=batched["wall_s"], ratio=ratio, per_job_s=round(batched["wall_s"] / total, 3),
                   note=f"basic / batched wall time, {total} jobs: {ratio}x")
    for row in rows:
        row.update(common, steps=steps)
        row.pop("sweep_dir", None)
    print(f"basic launcher {estimate:.0f} s, batched launcher {batched['wall_s']:.0f} s for {total} jobs: {ratio}x", flush=True)
    write(rows, args.results)


def write(rows: list[dict], results: Path = RESULTS) -> Path:
    """Append ``rows`` to ``sweep.csv`` and rewrite ``sweep.md`` from it; the markdown's path."""
    return record(results, "sweep", [
        "# Sweep launcher benchmark", "",
        "Written by `benchmarks/sweep.py` (its docstring says what each column means). The Alaska scenario, "
        f"`seed=range(64)` x `{COEFFICIENT}={','.join(VALUES)}` (256 jobs), default steps, `output.plot=false`, "
        "each sweep a `python -m diplosim -m ...` process from an empty directory. `ratio`: the basic launcher's "
        "wall time for the 256 jobs over the batched launcher's (warm compile cache). Rows whose note says "
        "*subset* ran the basic launcher on part of the sweep; its 256-job time `est_256_s` is extrapolated "
        "linearly from the two subsets (the per-job time is constant), not measured.", "",
        "On a CPU the Alaska simulation is a small part of a job: compare `simulate_s` (every run of the batched "
        "sweep) with `compose_s` and `write_s`, the per-job Hydra work both launchers do (composing the job's "
        "configuration, which holds the whole scenario; its `.hydra/` records; the job's tables).", "",
    ], COLUMNS, rows)


if __name__ == "__main__":
    main()
