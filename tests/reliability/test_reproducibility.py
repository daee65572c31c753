"""Reproducibility: the same seed and config give the same bytes, in another process and directory.

The tables hold no timestamps; their schema metadata records the configuration (without the
machine's own settings: the compile cache and the progress bar), the seed, the package versions
and the JAX backend.  A different seed gives different data.
"""

from __future__ import annotations

from importlib import metadata as importlib_metadata

import numpy as np
import pyarrow.parquet as pq
from hydra import compose, initialize_config_module

from diplosim.analysis import read_run
from diplosim.app import MACHINE_SETTINGS, as_dict, recorded_config, run_id_of
from diplosim.config import register_configs
from diplosim.io import PACKAGES, TABLES, read_metadata
from reliability.runs import QUICK_RUN, run_diplosim

register_configs()


def _parquet_files(run_dir):
    return {p.name: p for p in sorted(run_dir.glob("*.parquet"))}


def test_same_seed_and_config_give_the_same_bytes_in_another_process(reference_run, compile_cache, tmp_path):
    again = tmp_path / "elsewhere" / "run"
    done = run_diplosim(*QUICK_RUN, f"hydra.run.dir={again}", cwd=tmp_path, compile_cache=compile_cache)
    assert done.code == 0, done.err
    first, second = _parquet_files(reference_run), _parquet_files(again)
    assert sorted(first) == sorted(f"{name}.parquet" for name in TABLES)
    assert sorted(second) == sorted(first)
    for name, path in first.items():
        assert second[name].read_bytes() == path.read_bytes(), name


def test_another_seed_gives_other_data(reference_run, compile_cache, tmp_path):
    other = tmp_path / "seed1"
    done = run_diplosim(*QUICK_RUN, "seed=1", f"hydra.run.dir={other}", cwd=tmp_path, compile_cache=compile_cache)
    assert done.code == 0, done.err
    a, b = pq.read_table(reference_run / "dyads.parquet"), pq.read_table(other / "dyads.parquet")
    assert a.schema.remove_metadata() == b.schema.remove_metadata() and a.num_rows == b.num_rows
    assert not np.array_equal(a.column("tension").to_numpy(), b.column("tension").to_numpy())
    assert read_metadata(other / "metrics.parquet")["run_id"] != read_metadata(reference_run / "metrics.parquet")["run_id"]


def test_metadata_records_versions_seed_config_and_backend(reference_run):
    versions = {name: importlib_metadata.version(name) for name in PACKAGES if _installed(name)}
    records = [read_metadata(reference_run / f"{name}.parquet") for name in TABLES]
    assert all(record == records[0] for record in records)  # one record, in every table
    record = records[0]
    assert {name: record["versions"][name] for name in versions} == versions
    assert {"diplosim", "jax", "jaxlib", "numpy", "pyarrow", "hydra-core", "omegaconf"} <= set(record["versions"])
    assert record["seed"] == 0 and record["jax_backend"] == "cpu" and record["scenario"] == "synthetic"
    assert record["config"]["steps"] == 40 and record["config"]["scenario"]["n_states"] == 300
    assert all(key not in record["config"][section] for section, key in MACHINE_SETTINGS)
    assert record["run_id"] == run_id_of(record["config"])
    assert read_run(reference_run).metadata == record


def _installed(name: str) -> bool:
    try:
        importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return False
    return True


def _config(*overrides):
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return as_dict(compose(config_name="config", overrides=list(overrides)))


def test_machine_settings_change_neither_run_id_nor_record():
    """Where the compile cache lives (under $HOME by default) and the progress bar are the machine's."""
    here = _config("engine.compile_cache=/home/alice/.cache/diplosim/xla", "engine.progress=true")
    there = _config("engine.compile_cache=", "engine.progress=false")
    assert recorded_config(here) == recorded_config(there)
    assert run_id_of(recorded_config(here)) == run_id_of(recorded_config(there))
    assert here["engine"]["compile_cache"] != there["engine"]["compile_cache"]  # the run itself still sees them
    assert run_id_of(recorded_config(_config("seed=1"))) != run_id_of(recorded_config(_config("seed=0")))


def test_summary_command_reads_the_run_back(reference_run, diplosim_cli):
    outcome = diplosim_cli("summary", str(reference_run))
    assert outcome.code == 0, outcome.err
    metrics = pq.read_table(reference_run / "metrics.parquet")
    price = metrics.column("energy_price").to_numpy()
    line = next(line for line in outcome.out.splitlines() if line.startswith("energy price"))
    assert line.split()[-2:] == [f"{price[0]:.3f}", f"{price[-1]:.3f}"]
    assert "step 0" in outcome.out and "step 40" in outcome.out and "what happened:" in outcome.out
