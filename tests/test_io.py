"""Parquet output: every table readable by pyarrow, DuckDB and polars; metadata; atomic writes; determinism."""

import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_module

from diplosim.app import run, summary
from diplosim.config import register_configs
from diplosim.io import METADATA_KEY, atomic_write, read_metadata

register_configs()


def _config(*overrides):
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return compose(config_name="config", overrides=["steps=6", "output.every=2", "engine.progress=false", *overrides])


@pytest.fixture(scope="module")
def alaska_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("alaska")
    return run(_config(), out)


def test_all_tables_written_and_no_temporary_files(alaska_run):
    names = sorted(p.name for p in alaska_run.out_dir.iterdir())
    assert names == ["dyads.parquet", "events.parquet", "metrics.parquet", "metrics.png", "states.parquet"]


def test_tables_read_with_pyarrow_duckdb_and_polars(alaska_run):
    for name in ("metrics", "states", "dyads", "events"):
        path = alaska_run.paths[name]
        table = pq.read_table(path)
        via_duckdb = duckdb.sql(f"select count(*) from '{path}'").fetchall()[0][0]
        via_polars = pl.read_parquet(path)
        assert table.num_rows == via_duckdb == via_polars.height > 0
        assert table.column("run_id").unique().to_pylist() == [alaska_run.run_id]


def test_metrics_has_one_row_per_step_with_named_columns(alaska_run):
    metrics = pq.read_table(alaska_run.paths["metrics"])
    assert metrics.column("step").to_pylist() == list(range(7))
    for column in ("energy_price", "polarisation", "conflict_total", "cohesion_nato_eu", "us_russia_relation", "us_russia_tension"):
        assert column in metrics.column_names
    assert np.isfinite(metrics.column("energy_price").to_numpy()).all()


def test_states_are_long_form_with_dictionary_names(alaska_run):
    states = pq.read_table(alaska_run.paths["states"])
    assert pa.types.is_dictionary(states.schema.field("state").type)
    assert sorted(set(states.column("step").to_pylist())) == [0, 2, 4, 6]
    n = len(alaska_run.scenario.states)
    assert states.num_rows == 4 * n
    russia = duckdb.sql(f"select gdp from '{alaska_run.paths['states']}' where state = 'Russia' and step = 0").fetchall()[0][0]
    assert russia == pytest.approx(2161, rel=0.01)


def test_events_table_has_the_summit_with_exclusions(alaska_run):
    events = pl.read_parquet(alaska_run.paths["events"])
    summit = events.filter(pl.col("kind") == "summit").row(0, named=True)
    assert summit["actor"] == "United States" and summit["target"] == "Russia"
    assert set(summit["excluded"]) >= {"Ukraine", "Germany", "France", "United Kingdom", "Poland"}
    assert set(events["origin"].unique()) <= {"scheduled", "endogenous"}


def test_schema_metadata_records_config_seed_versions_backend(alaska_run):
    meta = read_metadata(alaska_run.paths["dyads"])
    assert meta["seed"] == 0 and meta["run_id"] == alaska_run.run_id
    assert meta["config"]["scenario"]["name"] == "alaska_2025" and meta["config"]["steps"] == 6
    assert {"jax", "pyarrow", "numpy", "hydra-core"} <= set(meta["versions"])
    assert meta["jax_backend"] == "cpu" and meta["jax_devices"] == 1
    raw = pq.read_schema(alaska_run.paths["metrics"]).metadata[METADATA_KEY]
    assert json.loads(raw) == read_metadata(alaska_run.paths["metrics"])


def test_same_config_same_bytes_other_seed_other_data(alaska_run, tmp_path):
    again = run(_config(), tmp_path / "again")
    for name in ("metrics", "states", "dyads", "events"):
        assert Path(again.paths[name]).read_bytes() == Path(alaska_run.paths[name]).read_bytes(), name
    other = run(_config("seed=1", "output.plot=false"), tmp_path / "other")
    a = pq.read_table(alaska_run.paths["dyads"]).column("tension").to_numpy()
    b = pq.read_table(other.paths["dyads"]).column("tension").to_numpy()
    assert not np.array_equal(a, b)


def test_synthetic_run_and_large_world_dyad_switch(tmp_path):
    result = run(_config("scenario=synthetic", "scenario.n_states=60", "output.max_dyads=10", "output.plot=false"), tmp_path)
    assert "dyads" not in result.paths  # too many dyads for the configured limit
    n_dyads = result.scenario.world.n_dyads
    assert result.notes == (f"dyads.parquet not written: the world has {n_dyads} dyads, more than output.max_dyads = 10 "
                            "(raise it to write them; output.every thins the steps written)",)
    assert f"note: {result.notes[0]}" in summary(result).splitlines()  # the command says so under its tables
    again = run(_config("scenario=synthetic", "scenario.n_states=60", "output.max_dyads=10", "output.plot=false"), tmp_path)
    assert again.trajectory is None and f"note: {result.notes[0]}" in summary(again).splitlines()  # and when rerun
    states = pq.read_table(result.paths["states"])
    assert states.num_rows == 4 * 60
    unasked = run(_config("scenario=synthetic", "scenario.n_states=60", "output.max_dyads=10", "output.dyads=false",
                          "output.plot=false"), tmp_path / "unasked")
    assert unasked.notes == () and "note:" not in summary(unasked)  # no dyads asked for: nothing to say


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    def broken(tmp):
        Path(tmp).write_bytes(b"half a file")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "metrics.parquet", broken)
    assert list(tmp_path.iterdir()) == []


def test_only_text_columns_are_dictionary_encoded(alaska_run):
    """Dictionaries for names (few distinct values), plain floats (all distinct: a dictionary only costs time)."""
    chunks = pq.ParquetFile(alaska_run.paths["dyads"]).metadata.row_group(0)
    encodings = {chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(chunks.num_columns)}
    assert "RLE_DICTIONARY" in encodings["src"] and "RLE_DICTIONARY" in encodings["run_id"]
    assert "RLE_DICTIONARY" not in encodings["tension"] and "RLE_DICTIONARY" not in encodings["alliance"]
    assert pa.types.is_dictionary(pq.read_schema(alaska_run.paths["dyads"]).field("src").type)  # read back as written


def test_summary_reads_the_events_it_wrote(alaska_run):
    """The summary's story comes from the events table held in memory, the same as read back from the file."""
    import dataclasses

    from diplosim.app import summary

    assert alaska_run.events.to_pylist() == pq.read_table(alaska_run.paths["events"]).to_pylist()
    from_file = dataclasses.replace(alaska_run, events=None)
    assert summary(alaska_run) == summary(from_file)
    assert "summit" in summary(alaska_run)


def test_canonical_json_is_json_dumps_with_kept_sections_not_encoded_again(monkeypatch):
    """Run ids hash this text: it must be json.dumps's, byte for byte, with or without kept sections."""
    import diplosim.io as io

    monkeypatch.setattr(io, "_texts", {})
    scenario = {"name": "alaska", "states": [{"name": "Russia", "reliability": 0.4}], "z": None, "a": float("nan")}
    config = {"seed": 3, "scenario": scenario, "dynamics": {"b": 1e-7, "a": True, "ü": "—"}, "path": Path("/x"),
              "nested": {"scenario": scenario, "k": {2: "int", 1: "keys"}}, "list": [scenario, (1, 2)]}
    expected = json.dumps(config, sort_keys=True, default=str)
    assert io.canonical_json(config) == expected
    io.keep_json(scenario)
    assert io.canonical_json(config) == expected
    monkeypatch.setitem(io._texts, id(scenario), (scenario, '"kept"'))  # the kept text is what is used
    assert io.canonical_json({"scenario": scenario}) == '{"scenario": "kept"}'
    assert io.canonical_json({"scenario": dict(scenario)}) == json.dumps({"scenario": scenario}, sort_keys=True)


def test_a_failed_table_write_waits_for_the_others(tmp_path, monkeypatch):
    """When one table cannot be written, the error comes after the others are done: nothing is
    still being written behind the caller's back (the job's clean-up runs next)."""
    import time

    import diplosim.io as io

    real = pq.write_table

    def write_table(table, where, **kwargs):
        if "broken" in table.column_names:
            raise OSError("disk full")
        time.sleep(0.3)
        real(table, where, **kwargs)

    monkeypatch.setattr(io.pq, "write_table", write_table)
    good, broken = pa.table({"x": [1.0, 2.0]}), pa.table({"broken": [1]})
    with pytest.raises(OSError, match="disk full"):
        io.write_tables(tmp_path, {"metrics": good, "states": broken, "dyads": good, "events": good}, {"run_id": "r"})
    assert (tmp_path / "metrics.parquet").exists() and (tmp_path / "dyads.parquet").exists()
    assert not (tmp_path / "events.parquet").exists()  # the completion marker is never written
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_forked_child_writes_tables_with_its_own_threads(tmp_path):
    """The writer pool is the process's: a child forked after a write starts its own (the
    parent's threads are not in the child, and waiting on them would hang)."""
    import os
    import time
    import warnings

    import diplosim.io as io

    table = pa.table({"x": [1.0]})
    io.write_tables(tmp_path / "parent", {"metrics": table, "events": table}, {"run_id": "r"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns that forking a multithreaded process is unsafe
        pid = os.fork()
    if pid == 0:  # the child: write, and leave at once either way
        try:
            io.write_tables(tmp_path / "child", {"metrics": table, "events": table}, {"run_id": "r"})
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung writing its tables")
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "child" / "events.parquet").exists()
