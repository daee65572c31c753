"""Global sensitivity of the Alaska scenario's headline outcomes: the runs (Saltelli sample, simulate_batch).

    python experiments/sensitivity/run.py [--n 512] [--replicates 4] [--steps 104] [--batch 256]
                                          [--out DIR] [diplosim overrides ...]

Samples the factors of ``factors.yaml`` (dynamics coefficients, each uniform on its range) with
SALib's Saltelli scheme (``SALib.sample.sobol``, first and total order: ``n * (factors + 2)``
points), runs every point ``--replicates`` times (seeds 0, 1, ...: the same seeds at every point,
common random numbers) on the package's configuration (``conf/config.yaml``, the Alaska scenario;
any ``key=value`` override of the ``diplosim`` command applies), as ``simulate_batch`` calls of
``--batch`` runs, and writes ``<out>/samples.parquet``: one row per point, the factor values and
each outcome's mean over the replicates, with the design in the schema metadata (key
``diplosim_sensitivity``).  ``analyse.py`` computes the Sobol indices from it.

The outcomes (the same definitions as ``experiments/common.py``, named as there):
``us_russia_tension`` and ``us_russia_trust`` (the watched dyad, final week), ``cohesion_nato_eu``
(final week), ``agreements_violated_total`` (detected breaches over the run),
``india_oil_from_russia`` (oil flow Russia -> India, mb/d, mean over the sampled weeks after week
3), ``ceasefire_weeks`` (share of weeks with a ceasefire with Russia as a party in force),
``conflict_mean`` (armed conflict summed over pairs, mean over the weeks).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
FACTORS = HERE / "factors.yaml"
METADATA_KEY = b"diplosim_sensitivity"
THREAT_STEP = 3  # as experiments/common.py: alaska_2025's india_oil_tariff fires during week 3
# the experiments' output settings (experiments/<name>/experiment.yaml): dyads sampled every 4 weeks
BASE_OVERRIDES = ["output.every=4", "output.plot=false"]
OUTCOMES = ("us_russia_tension", "us_russia_trust", "cohesion_nato_eu", "agreements_violated_total",
            "india_oil_from_russia", "ceasefire_weeks", "conflict_mean")


def load_factors(path: Path = FACTORS) -> list[dict]:
    """The factors, each ``{name, low, high, why}``, checked against ``diplosim.params.Params``."""
    from diplosim.params import Params

    declared = {f.name: f for f in dataclasses.fields(Params)}
    factors = yaml.safe_load(path.read_text())["factors"]
    for f in factors:
        if f["name"] not in declared:
            raise SystemExit(f"{path}: factor {f['name']!r} is not a dynamics coefficient; allowed: {', '.join(declared)}")
        lo, hi = declared[f["name"]].metadata["range"]
        if not (f["low"] < f["high"]) or (lo is not None and f["low"] < lo) or (hi is not None and f["high"] > hi):
            raise SystemExit(f"{path}: factor {f['name']}: range [{f['low']}, {f['high']}] must be increasing and "
                             f"inside the declared range [{lo}, {hi if hi is not None else 'inf'}]")
    return factors


def problem_of(factors: list[dict]) -> dict:
    """SALib's problem definition."""
    return {"num_vars": len(factors), "names": [f["name"] for f in factors],
            "bounds": [[float(f["low"]), float(f["high"])] for f in factors]}


def base_config(overrides: list[str]) -> dict:
    """The package's configuration (``conf/config.yaml``) with ``BASE_OVERRIDES`` and ``overrides``, resolved."""
    from hydra import compose, initialize_config_module

    from diplosim.app import as_dict
    from diplosim.config import register_configs

    register_configs()
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return as_dict(compose(config_name="config", overrides=[*BASE_OVERRIDES, *overrides]))


@dataclasses.dataclass(frozen=True)
class Indices:
    """Where the outcomes are in the scenario's arrays."""

    us_russia: int  # watched dyad
    nato: int  # bloc
    russia_india: int  # dyad (oil flows seller -> buyer)
    russia: int  # state

    @classmethod
    def of(cls, scenario) -> Indices:
        d = scenario.world.dyads
        src, dst = np.asarray(d.src), np.asarray(d.dst)
        russia, india = scenario.states.index("Russia"), scenario.states.index("India")
        return cls(scenario.watch.index("us_russia"), scenario.blocs.index("nato_eu"),
                   int(np.flatnonzero((src == russia) & (dst == india))[0]), russia)


def outcomes(batch, at: Indices) -> dict[str, np.ndarray]:
    """Each run's outcomes from a batched ``Trajectory`` (every array with a leading run axis)."""
    from diplosim.mechanisms.metrics import ENDOGENOUS_EVENTS
    from diplosim.world import AGREEMENT_KINDS, CHANNELS

    m = batch.metrics
    out = {
        "us_russia_tension": m["watch_tension"][:, -1, at.us_russia],
        "us_russia_trust": m["watch_trust"][:, -1, at.us_russia],
        "cohesion_nato_eu": m["cohesion"][:, -1, at.nato],
        "agreements_violated_total": m["agreements_violated"].sum(axis=1),
        "conflict_mean": m["conflict_total"][:, 1:].mean(axis=1),
    }
    after = batch.sample_steps > THREAT_STEP  # [runs, samples]
    flow = batch.dyads["energy_flow"][:, :, at.russia_india]
    out["india_oil_from_russia"] = np.where(after.any(axis=1), (flow * after).sum(axis=1) / np.maximum(after.sum(axis=1), 1), np.nan)
    ev = batch.events  # [runs, steps, records]
    kind, detail = ev["kind"], ev["detail"]
    ceasefire = (np.where(detail >= 0, detail // len(CHANNELS), -1) == AGREEMENT_KINDS.index("ceasefire")) & (
        (ev["actor"] == at.russia) | (ev["target"] == at.russia))
    signed = kind == ENDOGENOUS_EVENTS.index("agreement_signed")
    ended = (kind == ENDOGENOUS_EVENTS.index("agreement_violated")) | (kind == ENDOGENOUS_EVENTS.index("agreement_expired"))
    change = ((signed.astype(np.int64) - ended.astype(np.int64)) * ceasefire).sum(axis=2)  # [runs, steps]
    in_force = np.cumsum(change, axis=1) > 0  # after each week
    out["ceasefire_weeks"] = in_force.mean(axis=1) if in_force.shape[1] else np.zeros(len(kind))
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def simulate_points(job, points: np.ndarray, names: list[str], replicates: int, steps: int, batch: int,
                    progress: bool = True) -> dict[str, np.ndarray]:
    """Run every point ``replicates`` times; each outcome's mean over the replicates, [points].

    ``simulate_batch`` calls of exactly ``batch`` runs (the last padded with copies of its last
    run, then dropped), so one compiled program serves every call.  Each run's trade is
    calibrated to its own coefficients and its key is ``jax.random.key(replicate)``, as the
    batched launcher does (``diplosim.app.simulate_jobs``).
    """
    import jax
    import jax.numpy as jnp

    from diplosim.engine import simulate_batch
    from diplosim.mechanisms.trade import calibrate_trade
    from diplosim.params import Params, check_params

    n_runs = len(points) * replicates
    point = np.repeat(np.arange(len(points)), replicates)  # run r is point r // replicates ...
    replicate = np.tile(np.arange(replicates), len(points))  # ... with seed r % replicates
    base = job.params
    columns = {}
    for f in dataclasses.fields(Params):
        column = np.full(n_runs, float(np.asarray(getattr(base, f.name))), np.float32)
        if f.name in names:
            column = points[point, names.index(f.name)].astype(np.float32)
        columns[f.name] = column
    check_params(Params(**{k: jnp.asarray(v) for k, v in columns.items()}))
    keys = jnp.stack([jax.random.key(s) for s in range(replicates)])
    at = Indices.of(job.scenario)
    world = jax.device_put(job.scenario.world, job.device)
    calibrate = jax.jit(jax.vmap(calibrate_trade, in_axes=(None, 0)))
    collected: dict[str, list[np.ndarray]] = {name: [] for name in OUTCOMES}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_runs, desc=f"sensitivity ({steps} steps)", unit="run")
    with jax.default_device(job.device):
        for start in range(0, n_runs, batch):
            rows = np.arange(start, start + batch).clip(max=n_runs - 1)  # pad the last call
            params = Params(**{k: jnp.asarray(v[rows]) for k, v in columns.items()})
            worlds = calibrate(world, params)
            _, trajectory = simulate_batch(worlds, params, keys[replicate[rows]], steps, job.spec,
                                           chunk_steps=job.config["engine"]["chunk_steps"], world_batched=True)
            real = min(batch, n_runs - start)
            for name, values in outcomes(trajectory, at).items():
                collected[name].append(values[:real])
            if bar is not None:
                bar.update(real)
    if bar is not None:
        bar.close()
    return {name: np.concatenate(v).reshape(len(points), replicates).mean(axis=1) for name, v in collected.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="Saltelli base sample size (a power of 2); points: n * (factors + 2)")
    parser.add_argument("--replicates", type=int, default=4, help="runs (seeds 0, 1, ...) per point; outcomes are their mean")
    parser.add_argument("--steps", type=int, default=104, help="weeks per run")
    parser.add_argument("--batch", type=int, default=256, help="runs per simulate_batch call")
    parser.add_argument("--sample-seed", type=int, default=2025, help="seed of the scrambled Sobol sequence")
    parser.add_argument("--factors", type=Path, default=FACTORS)
    parser.add_argument("--out", type=Path, help="default: outputs/experiments/sensitivity/n<N>-r<R>-steps<T>")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("overrides", nargs="*", help="diplosim config overrides, e.g. scenario.states.1.reliability=0.7")
    args = parser.parse_args(argv)
    if args.n < 2 or args.replicates < 1 or args.batch < 1 or args.steps < 1:
        raise SystemExit("--n must be >= 2, --replicates, --batch and --steps >= 1")

    import pyarrow as pa
    import pyarrow.parquet as pq
    try:  # SALib >= 1.4.6; before it, the same scheme was SALib.sample.saltelli
        from SALib.sample import sobol as saltelli
    except ImportError:
        from SALib.sample import saltelli

    from diplosim.app import prepare, use_compile_cache

    factors = load_factors(args.factors)
    problem = problem_of(factors)
    points = saltelli.sample(problem, args.n, calc_second_order=False, seed=args.sample_seed)
    config = base_config([*args.overrides, f"steps={args.steps}"])
    job = prepare(config)
    use_compile_cache(config["engine"]["compile_cache"])  # as a diplosim run: compiled programs are reused
    started = time.perf_counter()
    means = simulate_points(job, points, problem["names"], args.replicates, args.steps, args.batch, not args.no_progress)
    seconds = time.perf_counter() - started
    n_runs = len(points) * args.replicates
    out = args.out or Path("outputs/experiments/sensitivity") / f"n{args.n}-r{args.replicates}-steps{args.steps}"
    out.mkdir(parents=True, exist_ok=True)
    table = pa.table({"point": np.arange(len(points)), **{n: points[:, i] for i, n in enumerate(problem["names"])}, **means})
    design = {
        "factors": factors, "n": args.n, "replicates": args.replicates, "seeds": list(range(args.replicates)),
        "steps": args.steps, "calc_second_order": False, "sample_seed": args.sample_seed, "overrides": args.overrides,
        "scenario": job.scenario.name, "outcomes": list(OUTCOMES), "runs": n_runs, "seconds": round(seconds, 2),
        "config": job.recorded, "command": " ".join(["python experiments/sensitivity/run.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(design, default=str).encode()})
    path = out / "samples.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # whole or absent
    print(f"{len(points)} points x {args.replicates} replicates = {n_runs} runs of {args.steps} weeks in {seconds:.1f} s "
          f"({n_runs * args.steps / seconds:,.0f} scenario-steps/s, compilation included); wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
