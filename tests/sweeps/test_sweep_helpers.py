"""The pieces under the sweep tests: the job's override columns, the sweep directory's name,
Student's t quantiles, the summary of a hand-made table."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_module

from diplosim.analysis import SWEEP_KEY, summarise, t_quantile
from diplosim.app import run
from diplosim.config import register_configs
from diplosim.io import read_metadata
from diplosim.sweep import job_overrides, sweep_name

register_configs()


def _compose(*overrides, hydra: bool = True):
    with initialize_config_module(config_module="diplosim.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


def test_job_overrides_are_typed_by_the_config():
    cfg = _compose("scenario=synthetic", "dynamics.trade_relax=1", "seed=3", "engine.progress=false",
                   "engine.mechanisms.trade=false", "scenario.n_states=50")
    values = job_overrides(cfg, cfg.hydra)
    assert values == {"seed": 3, "scenario": "synthetic", "dynamics.trade_relax": 1.0,
                      "engine.mechanisms.trade": False, "scenario.n_states": 50}
    assert isinstance(values["dynamics.trade_relax"], float)
    assert job_overrides(cfg, None) == {"seed": 3}


def test_run_writes_the_overrides_as_columns_and_in_the_record(tmp_path):
    cfg = _compose("scenario=synthetic", "scenario.n_states=30", "steps=2", "output.plot=false", "engine.progress=false", hydra=False)
    overrides = {"seed": 0, "dynamics.trade_relax": 0.25, "scenario": "synthetic", "engine.mechanisms.trade": True}
    result = run(cfg, tmp_path, overrides=overrides)
    for name, path in result.paths.items():
        table = pq.read_table(path)
        assert table.column_names[:5] == ["run_id", *overrides], name
        assert [table.schema.field(c).type for c in overrides] == [
            pa.int64(), pa.float64(), pa.dictionary(pa.int32(), pa.string()), pa.bool_()], name
        assert table.column("dynamics.trade_relax").to_pylist() == [0.25] * table.num_rows
    assert read_metadata(result.paths["metrics"])["overrides"] == overrides


def test_sweep_name_is_the_same_for_the_same_command_only():
    one = sweep_name("config", "alaska_2025", ["seed=range(4)", "dynamics.trade_relax=0.1,0.2"])
    assert one == sweep_name("config", "alaska_2025", ["seed=range(4)", "dynamics.trade_relax=0.1,0.2"])
    assert one.startswith("alaska_2025-") and len(one) == len("alaska_2025-") + 12
    assert one == sweep_name("config", "alaska_2025", ["seed=range(4)", "engine.progress=false", "dynamics.trade_relax=0.1,0.2"])
    assert one != sweep_name("config", "alaska_2025", ["seed=range(5)", "dynamics.trade_relax=0.1,0.2"])
    assert one != sweep_name("config", "alaska_2025", ["dynamics.trade_relax=0.1,0.2", "seed=range(4)"])  # job order
    assert one != sweep_name("other_config", "alaska_2025", ["seed=range(4)", "dynamics.trade_relax=0.1,0.2"])
    assert sweep_name("config", "alaska_2025", ["scenario=alaska_2025,synthetic"]).startswith("scenarios-")


def test_the_default_sweep_directory_is_named_by_the_command():
    from hydra.core.hydra_config import HydraConfig  # noqa: F401  (the config resolves without a running app)

    cfg = _compose("seed=1", "steps=5")
    expected = sweep_name("config", "alaska_2025", ["seed=1", "steps=5"])
    assert str(cfg.hydra.sweep.dir) == f"outputs/sweeps/{expected}"


@pytest.mark.parametrize(("p", "df", "expected"), [
    (0.975, 1, 12.706204736174707), (0.975, 2, 4.302652729911275), (0.975, 4, 2.7764451051977987),
    (0.975, 9, 2.2621571627409915), (0.975, 63, 1.9983405417721956), (0.995, 10, 3.169272672616),
    (0.025, 5, -2.5705818366147395), (0.5, 7, 0.0),
])
def test_t_quantile_matches_published_values(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-8)


def test_summarise_a_hand_made_per_run_table():
    note = {"parameters": ["seed", "dynamics.x"], "per_run": True}
    table = pa.table({
        "run_id": ["a", "b", "c", "d", "e"], "seed": [0, 1, 2, 0, 1], "dynamics.x": [0.1, 0.1, 0.1, 0.2, 0.2],
        "step": [4] * 5, "energy_price": [1.0, 2.0, 3.0, 10.0, np.nan],
    }).replace_schema_metadata({SWEEP_KEY: json.dumps(note)})
    rows = summarise(table).to_pylist()
    assert [r["dynamics.x"] for r in rows] == [0.1, 0.2]
    first, second = rows
    assert (first["n"], first["mean"], first["sd"]) == (3, 2.0, 1.0)
    half = 4.302652729911275 / math.sqrt(3)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    assert second["n"] == 1 and second["mean"] == 10.0 and math.isnan(second["ci_low"])  # the NaN run not counted


def test_overrides_are_read_as_typed_never_resolved():
    cfg = _compose("steps=${oc.env:DIPLOSIM_NO_SUCH_VARIABLE}", "seed=2")
    assert str(cfg.hydra.sweep.dir) == "outputs/sweeps/" + sweep_name("config", "alaska_2025", ["steps=${oc.env:DIPLOSIM_NO_SUCH_VARIABLE}", "seed=2"])
    assert job_overrides(cfg, cfg.hydra) == {"seed": 2, "steps": None}  # the run itself reports the missing variable
