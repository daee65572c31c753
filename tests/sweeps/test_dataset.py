"""A sweep reads as one dataset: typed override columns, the hive-partitioned dataset that
pyarrow.dataset, DuckDB and polars open in one call, load_sweep, summarise and diplosim summary."""

from __future__ import annotations

import math
import shutil

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from diplosim import analysis
from diplosim.analysis import AnalysisError, load_sweep, parameters, run_outcomes, summarise
from diplosim.sweep import sync_dataset
from sweeps.runs import N_JOBS

OVERRIDE_TYPES = {
    "seed": pa.int64(), "dynamics.trade_relax": pa.float64(), "scenario": pa.dictionary(pa.int32(), pa.string()),
    "scenario.n_states": pa.int64(), "steps": pa.int64(), "output.every": pa.int64(), "output.plot": pa.bool_(),
}


def test_each_table_carries_the_jobs_overrides_as_typed_columns(basic_sweep):
    import pyarrow.parquet as pq

    table = pq.read_table(basic_sweep.sweep_dir / "3" / "states.parquet")  # seed=1, dynamics.trade_relax=0.5
    names = table.column_names
    assert names[:1 + len(OVERRIDE_TYPES)] == ["run_id", *OVERRIDE_TYPES]  # seed, then the command line's order
    assert "engine.progress" not in names  # a machine setting, not a parameter
    for name, kind in OVERRIDE_TYPES.items():
        assert table.schema.field(name).type == kind, name
    row = table.slice(0, 1).to_pylist()[0]
    assert (row["seed"], row["dynamics.trade_relax"], row["scenario"], row["steps"]) == (1, 0.5, "synthetic", 6)


def test_pyarrow_duckdb_and_polars_open_the_dataset_in_one_call(basic_sweep):
    root = basic_sweep.sweep_dir / "dataset" / "metrics"
    by_arrow = ds.dataset(root, partitioning="hive").to_table()
    by_duckdb = duckdb.sql(f"select * from read_parquet('{root}/*/*.parquet', hive_partitioning = true)")
    by_polars = pl.read_parquet(root)
    for rows, columns in ((by_arrow.num_rows, by_arrow.column_names), (len(by_duckdb.fetchall()), by_duckdb.columns),
                          (by_polars.height, by_polars.columns)):
        assert rows == N_JOBS * 7
        assert {"job", "seed", "dynamics.trade_relax", "energy_price"} <= set(columns)
    mean = duckdb.sql(
        f"""select "dynamics.trade_relax" as relax, avg(gdp_total) as gdp from read_parquet('{root}/*/*.parquet')
            where step = 6 group by relax order by relax""").fetchall()
    assert [r[0] for r in mean] == [0.1, 0.5]


def test_load_sweep_puts_job_run_and_parameters_first(basic_sweep):
    states = load_sweep(basic_sweep.sweep_dir, "states")
    assert states.column_names[:2 + len(OVERRIDE_TYPES)] == ["job", "run_id", *OVERRIDE_TYPES]
    assert states.schema.field("job").type == pa.int32()
    assert parameters(states) == list(OVERRIDE_TYPES)
    assert parameters(states, varied=True) == ["seed", "dynamics.trade_relax"]
    assert sorted(set(states.column("job").to_pylist())) == list(range(N_JOBS))


def test_load_sweep_filters_and_picks_columns(basic_sweep):
    import pyarrow.compute as pc

    last = load_sweep(basic_sweep.sweep_dir, columns=["job", "seed", "energy_price"], filter=pc.field("step") == 6)
    assert last.column_names == ["job", "seed", "energy_price"] and last.num_rows == N_JOBS


def test_summarise_gives_mean_sd_n_and_ci_per_setting(basic_sweep):
    metrics = load_sweep(basic_sweep.sweep_dir)
    per_run = run_outcomes(metrics)
    assert per_run.num_rows == N_JOBS and set(per_run.column("step").to_pylist()) == {6}
    table = summarise(metrics)  # by the varied parameters but seed
    assert table.column_names == ["dynamics.trade_relax", "outcome", "n", "mean", "sd", "ci_low", "ci_high"]
    row = next(r for r in table.to_pylist() if r["dynamics.trade_relax"] == 0.5 and r["outcome"] == "gdp_total")
    final = metrics.filter((metrics.column("step").to_numpy() == 6) & (metrics.column("dynamics.trade_relax").to_numpy() == 0.5))
    values = final.column("gdp_total").to_numpy().astype(np.float64)
    half = 12.706204736174707 * values.std(ddof=1) / math.sqrt(2)  # t(0.975, 1)
    assert row["n"] == 2
    assert row["mean"] == pytest.approx(values.mean())
    assert row["sd"] == pytest.approx(values.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))
    everything = summarise(per_run, by=[], outcomes=["energy_price"])
    assert everything.to_pylist()[0]["n"] == N_JOBS


def test_summary_command_on_a_sweep(basic_sweep, capsys):
    assert analysis.main([str(basic_sweep.sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{N_JOBS} completed job(s), scenario synthetic, outcomes at step 6" in out
    assert "parameters varied: seed (2 values), dynamics.trade_relax (2 values)" in out
    assert "energy price (USD/bbl)" in out and "95% CI" in out
    assert analysis.main([str(basic_sweep.sweep_dir), "--by", "seed", "--step", "2"]) == 0
    assert "(by seed)" in capsys.readouterr().out


def test_summary_command_mistakes_are_one_line(basic_sweep, capsys, tmp_path):
    assert analysis.main([str(basic_sweep.sweep_dir), "--by", "dynamics.nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diplosim summary: error: summarise: no column dynamics.nope; parameters here: seed,")
    assert "\n" not in err
    (tmp_path / "empty_sweep").mkdir()
    (tmp_path / "empty_sweep" / "multirun.yaml").write_text("{}")
    assert analysis.main([str(tmp_path / "empty_sweep")]) == 2
    assert "no completed job here" in capsys.readouterr().err


def test_sync_dataset_follows_the_jobs(basic_sweep, tmp_path):
    sweep = tmp_path / "copy"
    shutil.copytree(basic_sweep.sweep_dir, sweep, copy_function=shutil.copy2)
    shutil.rmtree(sweep / "dataset")
    assert sorted(sync_dataset(sweep).complete) == list(range(N_JOBS))
    part = sweep / "dataset" / "metrics" / "job=2" / "part-0.parquet"
    assert part.stat().st_ino == (sweep / "2" / "metrics.parquet").stat().st_ino  # a hard link, not a copy

    (sweep / "2" / "events.parquet").unlink()  # job 2 incomplete: it leaves the dataset, every table of it
    stray = sweep / "backup"  # tables, but no Hydra record: not a job that can be placed
    stray.mkdir()
    shutil.copy2(sweep / "1" / "metrics.parquet", stray / "metrics.parquet")
    found = sync_dataset(sweep)
    assert 2 not in found.complete and "incomplete run" in found.incomplete[sweep / "2"]
    assert list(found.incomplete) == [sweep / "2", stray]  # in the order of the directories
    assert "no Hydra job number" in found.incomplete[stray]
    assert not (sweep / "dataset" / "metrics" / "job=2").exists()
    assert not (sweep / ".dataset-tmp").exists()
    shutil.rmtree(stray)
    assert sorted(set(load_sweep(sweep, "dyads").column("job").to_pylist())) == [0, 1, 3]

    shutil.copy2(basic_sweep.sweep_dir / "2" / "events.parquet", sweep / "2" / "events.parquet")
    shutil.rmtree(sweep / "3")
    found = sync_dataset(sweep)
    assert sorted(found.complete) == [0, 1, 2] and not (sweep / "dataset" / "events" / "job=3").exists()
    before = part.stat().st_ino
    sync_dataset(sweep)  # nothing changed: nothing replaced
    assert part.stat().st_ino == before


def test_load_sweep_mistakes(tmp_path, basic_sweep):
    with pytest.raises(AnalysisError, match="no such sweep directory"):
        load_sweep(tmp_path / "nope")
    with pytest.raises(AnalysisError, match="unknown table 'agents'; allowed: metrics, states, dyads, events"):
        load_sweep(basic_sweep.sweep_dir, "agents")


@pytest.mark.parametrize("progress", [True, False])
def test_the_end_of_sweep_callback_follows_engine_progress(basic_sweep, monkeypatch, progress):
    from omegaconf import OmegaConf

    from diplosim import sweep as sweep_module

    asked = []
    monkeypatch.setattr(sweep_module, "sync_dataset", lambda sweep_dir, progress=True: asked.append(progress) or
                        sync_dataset(sweep_dir, progress=progress))
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(basic_sweep.sweep_dir)}}, "engine": {"progress": progress}})
    sweep_module.SweepDataset().on_multirun_end(config)
    assert asked == [progress]
