"""Bad input, clear errors: a corpus of malformed inputs through the real CLI entry point.

Every entry must end with exit status 2, exactly one non-empty line on stderr that names the file
(where there is one) and the field, no traceback, and nothing left in the working directory (the
default Hydra run directory, ``outputs/runs/<date>/<time>_<name>``, is under it).  The corpus
runs in-process (``diplosim.cli.main`` with a patched ``sys.argv``); a handful of entries run
again as subprocesses to prove the end-to-end behaviour.

Corpus (fixture files in this folder and the older ones they reuse):
- scenario files: tests/scenario/bad/*.yaml (29) and bad_scenarios/*.yaml, through ``scenario.path``;
- command-line overrides: ``OVERRIDES`` below (Hydra's composition errors and the run's own checks);
- bargaining actor tables: tests/data/bargaining/*.csv (11 bad) and bad_actors/*.csv, plus bad flags;
- run directories for ``diplosim summary`` / ``diplosim.analysis.read_run``: built and damaged below.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra.errors import ConfigCompositionException

import diplosim.app
from diplosim.analysis import AnalysisError, read_run
from reliability.runs import REPO, run_diplosim

HERE = Path(__file__).parent
OLD_BAD_SCENARIOS = REPO / "tests" / "scenario" / "bad"
NEW_BAD_SCENARIOS = HERE / "bad_scenarios"
OLD_BAD_ACTORS = REPO / "tests" / "data" / "bargaining"
NEW_BAD_ACTORS = HERE / "bad_actors"

# settings every in-process app call adds: no compile cache written into the test process's JAX
QUIET = ("engine.compile_cache=", "engine.progress=false", "output.plot=false")
# a small synthetic scenario under every entry that is not about the scenario: composing the
# Alaska scenario's large YAML costs about a second a call
SMALL_WORLD = ("scenario=synthetic", "scenario.n_states=20")


def _with_small_world(overrides: list[str]) -> list[str]:
    about_scenario = any(o.lstrip("+~").startswith("scenario") or o == "--config-name" for o in overrides)
    return overrides if about_scenario else [*overrides, *SMALL_WORLD]  # after any flag: argparse wants overrides together


def _old_scenario_expectations() -> dict[str, str]:
    """tests/scenario/test_schema.py's table: bad fixture -> the field its message names."""
    spec = importlib.util.spec_from_file_location("_schema_table", REPO / "tests" / "scenario" / "test_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED


NEW_SCENARIOS = {
    "empty_file": "expected a mapping",
    "only_comment": "expected a mapping",
    "top_level_list": "expected a mapping",
    "tab_indent": "malformed YAML at line 5",
    "not_utf8": "not UTF-8 text",
    "no_states": "states: at least one state",
    "states_not_a_list": "states: Input should be a valid list",
    "gdp_is_text": "states[0].gdp",
    "overflow_number": "states[0].gdp: Input should be a finite number",
    "negative_reliability": "states[0].reliability",
    "negative_energy_supply": "states[1].energy_supply",
    "position_out_of_range": "states[0].position.border",
    "salience_negative": "states[1].salience.border",
    "negative_trust_count": "trust[0].alpha",
    "tension_out_of_range": "tension[0].value",
    "unknown_state_in_trade": "trade[0].to: unknown state 'Syldavia'",
    "unknown_state_in_sanction": "sanctions[0].from: unknown state 'Ruritania'",
    "event_unknown_issue": "events[0].issue: unknown issue 'fishing'",
    "synthetic_one_state": "n_states: Input should be greater than or equal to 2",
}

SCENARIO_CASES = [(OLD_BAD_SCENARIOS / f"{name}.yaml", text) for name, text in sorted(_old_scenario_expectations().items())]
SCENARIO_CASES += [(NEW_BAD_SCENARIOS / f"{name}.yaml", text) for name, text in sorted(NEW_SCENARIOS.items())]

# (overrides, text the one line must contain: the field and what is allowed)
OVERRIDES = [
    # Hydra's composition: wrong types, unknown keys, unparsable overrides, missing configs
    (["steps=abc"], "steps: Value 'abc' of type 'str' could not be converted to Integer; allowed: a whole number"),
    (["steps=1.5"], "steps: Value '1.5' of type 'float' could not be converted to Integer; allowed: a whole number"),
    (["steps=null"], "steps: field 'steps' is not Optional; allowed: a whole number"),
    (["seed=many"], "seed: Value 'many'"),
    (["dynamics.trade_relax=fast"], "dynamics.trade_relax: Value 'fast' of type 'str' could not be converted to Float; allowed: a number"),
    (["scenario.n_states=many"], "scenario.n_states: Value 'many'"),
    (["output.plot=perhaps"], "output.plot: Value 'perhaps' is not a valid bool (type str); allowed: true or false"),
    (["engine.mechanisms.trade=maybe"], "engine.mechanisms.trade: Value 'maybe' is not a valid bool"),
    (["dynamics.nope=1"], "dynamics.nope: unknown config key; allowed: signal_tension,"),
    (["dynamics.trade_relx=0.3"], "dynamics.trade_relx: unknown config key (did you mean 'trade_relax'?)"),
    (["engine.turbo=true"], "engine.turbo: unknown config key; allowed: device, chunk_steps,"),
    (["output.colour=red"], "output.colour: unknown config key; allowed: every, states, dyads,"),
    (["scenario=nope"], "scenario=nope: no such scenario config; allowed: alaska_2025, synthetic"),
    (["--config-name", "nope"], "config 'nope': not found"),
    (["steps=[1"], "override 'steps=[1': cannot parse it"),
    (["~dynamics.trade_relax"], "dynamics.trade_relax: DynamicsConfig (DictConfig) does not support deletion"),
    (["output.every=${steps}x"], "output.every: While dereferencing interpolation '${steps}x'"),
    (["--nope"], "unrecognized arguments: --nope"),
    (["--resolve"], "The --resolve flag can only be used in conjunction with --cfg or --help"),
    (["-m", "steps=abc,1"], "steps: Value 'abc'"),
    # keys added or removed past Hydra's schema check
    (["+foo=3"], "foo: unknown config key; allowed: scenario, dynamics, engine, output, seed, steps"),
    (["+engine.turbo=1"], "engine.turbo: unknown config key"),
    (["+engine.mechanisms.turbo=true"], "engine.mechanisms.turbo: unknown config key; allowed: events,"),
    (["+scenario.foo=1"], "scenario alaska_2025: foo: unknown key"),
    (["~steps"], "steps: missing"),
    # impossible sizes
    (["scenario=synthetic", "scenario.n_states=1"], "scenario synthetic: n_states: Input should be greater than or equal to 2 (got 1)"),
    (["scenario=synthetic", "scenario.n_states=-5"], "scenario synthetic: n_states: Input should be greater than or equal to 2 (got -5)"),
    (["scenario=synthetic", "scenario.dyads_per_state=0"], "dyads_per_state"),
    (["scenario=synthetic", "scenario.n_blocs=0"], "n_blocs"),
    (["scenario=synthetic", "scenario.n_envoys=-1"], "n_envoys"),
    (["steps=-1"], "steps = -1: must be >= 0"),
    (["-m", "steps=-1,1"], "steps = -1: must be >= 0"),
    (["output.every=0"], "output.every = 0: must be >= 1"),
    (["output.max_dyads=-1"], "output.max_dyads = -1: must be >= 0"),
    (["engine.agreement_slots=-1"], "agreement_slots must be >= 0 (got -1)"),
    (["engine.chunk_steps=-3"], "engine.chunk_steps = -3: must be >= 0"),
    (["engine.event_log_capacity=-1"], "engine.event_log_capacity = -1: must be >= 0"),
    (["seed=99999999999999999999"], "seed = 99999999999999999999: must be a whole number in [-2**63, 2**63 - 1]"),
    # values out of range, non-finite numbers
    (["dynamics.trade_relax=2"], "dynamics.trade_relax = 2.0 is outside [0.0, 1.0]"),
    (["dynamics.sanction_rate=-0.1"], "dynamics.sanction_rate"),
    (["dynamics.trade_relax=nan"], "dynamics.trade_relax = nan: must be a finite number"),
    (["dynamics.growth_base=inf"], "dynamics.growth_base"),
    (["dynamics.agreement_duration=1e39"], "dynamics.agreement_duration = 1e+39: must be a finite number (a 32-bit float)"),
    (["engine.device=tpu"], "engine.device = 'tpu': allowed values are auto, cpu, gpu"),
    (["scenario.kind=weird"], "kind: unknown scenario kind 'weird'; allowed: file, synthetic"),
    (["steps=${oc.env:DIPLOSIM_NO_SUCH_VARIABLE}"], "steps: KeyError raised while resolving interpolation"),
    # missing or unreadable scenario files
    (["scenario=synthetic", "scenario.path=/nonexistent.yaml"], "scenario /nonexistent.yaml: cannot read the file (No such file or directory)"),
    (["scenario=synthetic", f"scenario.path={REPO / 'tests'}"], f"scenario {REPO / 'tests'}: cannot read the file (Is a directory)"),
]


def _assert_clean_failure(outcome, prefix: str, expected: str) -> None:
    assert outcome.code == 2, outcome.err
    assert "Traceback" not in outcome.err
    assert len(outcome.err_lines) == 1, outcome.err
    line = outcome.err_lines[0]
    assert line.startswith(f"{prefix}: error: "), line
    assert expected in line, line
    assert outcome.left_files() == [], outcome.left_files()


# --- scenario files and overrides, through the Hydra app -------------------------------------------


@pytest.mark.parametrize("path, expected", SCENARIO_CASES, ids=[p.stem for p, _ in SCENARIO_CASES])
def test_bad_scenario_file(diplosim_cli, path, expected):
    outcome = diplosim_cli("scenario=synthetic", f"scenario.path={path}", *QUIET)  # the file replaces the group
    _assert_clean_failure(outcome, "diplosim", f"scenario {path}: ")
    assert expected in outcome.err_lines[0]


@pytest.mark.parametrize("overrides, expected", OVERRIDES, ids=[" ".join(o) for o, _ in OVERRIDES])
def test_bad_override(diplosim_cli, overrides, expected):
    _assert_clean_failure(diplosim_cli(*_with_small_world(overrides), *QUIET), "diplosim", expected)


def test_every_new_scenario_fixture_is_in_the_corpus():
    assert {p.stem for p in NEW_BAD_SCENARIOS.glob("*.yaml")} == set(NEW_SCENARIOS)


def test_user_error_keeps_a_directory_that_held_a_run(diplosim_cli):
    """Only a directory Hydra made for this job is removed; an earlier run's files stay."""
    earlier = Path.cwd() / "earlier"
    earlier.mkdir()
    (earlier / "metrics.parquet").write_bytes(b"an earlier run")
    outcome = diplosim_cli(*SMALL_WORLD, "steps=-1", f"hydra.run.dir={earlier}", *QUIET)
    assert outcome.code == 2 and len(outcome.err_lines) == 1
    assert (earlier / "metrics.parquet").read_bytes() == b"an earlier run"


def test_a_disk_error_half_way_through_the_writes_leaves_nothing(diplosim_cli, monkeypatch):
    """A run stopped by the system after its first table (disk full) leaves no half run behind."""

    def full_disk(cfg, out_dir, **_):
        Path(out_dir, "metrics.parquet").write_bytes(b"a whole table")
        raise OSError(28, "No space left on device", str(Path(out_dir, "states.parquet")))

    monkeypatch.setattr(diplosim.app, "run", full_disk)
    outcome = diplosim_cli(*SMALL_WORLD, "steps=1", *QUIET)
    _assert_clean_failure(outcome, "diplosim", "No space left on device")
    assert "states.parquet" in outcome.err_lines[0]


def test_a_bug_in_the_task_keeps_its_traceback(diplosim_cli, monkeypatch):
    """An exception that is not the user's leaves the task as it is: a traceback, not exit status 2."""

    def broken(cfg, out_dir, **_):
        raise RuntimeError("a bug")

    monkeypatch.setattr(diplosim.app, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        diplosim_cli(*SMALL_WORLD, "steps=1", *QUIET)
    # and the same for a KeyError, which Hydra's own errors could also be
    monkeypatch.setattr(diplosim.app, "run", lambda cfg, out_dir, **_: {}["missing"])
    with pytest.raises(KeyError):
        diplosim_cli(*SMALL_WORLD, "steps=1", *QUIET)


def test_ctrl_c_ends_in_one_line(diplosim_cli, monkeypatch):
    """Ctrl-C (the usual way to stop a sweep, which the same command then finishes) is one line and
    exit status 130, not the traceback of wherever it landed."""

    def interrupted(cfg, out_dir, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(diplosim.app, "run", interrupted)
    outcome = diplosim_cli(*SMALL_WORLD, "steps=1", *QUIET)
    assert outcome.code == 130 and "Traceback" not in outcome.err
    assert len(outcome.err_lines) == 1 and outcome.err_lines[0].startswith("diplosim: interrupted; the same command")


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None, reason="Ray's launcher is installed")
def test_a_launcher_without_its_plugin_says_what_to_install(diplosim_cli):
    _assert_clean_failure(diplosim_cli("-m", "hydra/launcher=ray_jobs", *SMALL_WORLD, "steps=1", *QUIET), "diplosim",
                          "hydra/launcher=ray_jobs: needs the launcher plugin hydra-ray-launcher, which is not installed; "
                          "allowed: pip install -e '.[ray]'")


@pytest.mark.parametrize("missing, package, extra", [
    ("hydra/launcher/joblib", "hydra-joblib-launcher", "launchers"),
    ("hydra/launcher/submitit_local", "hydra-submitit-launcher", "launchers"),
    ("hydra/launcher/submitit_slurm", "hydra-submitit-launcher", "launchers"),
])
def test_each_plugin_launcher_names_its_package(monkeypatch, missing, package, extra):
    """The launchers whose plugins come with the extras (installed here, so their absence is faked)."""
    from types import SimpleNamespace

    from diplosim import cli

    monkeypatch.setattr(cli.sys, "argv", ["diplosim", "-m", "hydra/launcher=local_jobs", "seed=1"])
    message = cli._missing_config(SimpleNamespace(missing_cfg_file=missing, options=["basic", "batched"]))
    assert message == (f"hydra/launcher=local_jobs: needs the launcher plugin {package}, which is not installed; "
                       f"allowed: pip install -e '.[{extra}]' (or pip install {package}) first, or another launcher")


def test_hydra_full_error_still_gives_hydra_tracebacks(diplosim_cli, monkeypatch):
    """A user who asks for Hydra's full tracebacks gets them, and keeps the setting."""
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ConfigCompositionException):
        diplosim_cli(*SMALL_WORLD, "steps=abc", *QUIET)
    assert os.environ["HYDRA_FULL_ERROR"] == "1"


def test_hydra_full_error_is_restored_after_a_run(diplosim_cli):
    diplosim_cli(*SMALL_WORLD, "steps=abc", *QUIET)
    assert "HYDRA_FULL_ERROR" not in os.environ


# --- bargaining actor tables ----------------------------------------------------------------------

ACTOR_CASES = [p for p in sorted(OLD_BAD_ACTORS.glob("*.csv")) if p.stem != "three_actors"]  # the one good table
ACTOR_CASES += sorted(NEW_BAD_ACTORS.glob("*.csv"))
KNOWN_BARGAIN_BUGS: dict[str, str] = {}  # stem -> reason, for a bad table that is not yet reported properly


def _actor_params():
    for path in ACTOR_CASES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BARGAIN_BUGS[path.stem])] if path.stem in KNOWN_BARGAIN_BUGS else []
        yield pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.parametrize("path", list(_actor_params()))
def test_bad_actor_table(diplosim_cli, path):
    out = Path.cwd() / "out.parquet"
    try:
        outcome = diplosim_cli("bargain", str(path), "--out", str(out))
    except Exception as err:  # a traceback the user would see
        pytest.fail(f"{type(err).__name__}: {err}")
    _assert_clean_failure(outcome, "diplosim bargain", f"{path}: ")


GOOD_ACTORS = OLD_BAD_ACTORS / "three_actors.csv"
BARGAIN_FLAGS = [
    (["--rounds", "-1"], "argument --rounds: must be a whole number >= 0, got -1"),
    (["--rounds", "x"], "argument --rounds: must be a whole number >= 0, got 'x'"),
    (["--speed", "0"], "argument --speed: must be a number in (0, 1], got 0"),
    (["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("flags, expected", BARGAIN_FLAGS, ids=[" ".join(f) for f, _ in BARGAIN_FLAGS])
def test_bad_bargain_flag(diplosim_cli, flags, expected):
    outcome = diplosim_cli("bargain", str(GOOD_ACTORS), "--out", str(Path.cwd() / "out.parquet"), *flags)
    _assert_clean_failure(outcome, "diplosim bargain", expected)


@pytest.mark.parametrize("target, expected", [("/nonexistent.csv", "/nonexistent.csv: no such file"),
                                              (str(REPO / "tests"), "tests: not a file")], ids=["missing", "directory"])
def test_bargain_on_a_missing_file(diplosim_cli, target, expected):
    outcome = diplosim_cli("bargain", target, "--out", str(Path.cwd() / "out.parquet"))
    _assert_clean_failure(outcome, "diplosim bargain", expected)


# --- run directories for the analysis tools -------------------------------------------------------


def _table(run_id: str, columns: dict, metadata: dict | None = None) -> pa.Table:
    table = pa.table(columns)
    record = {"run_id": run_id, "scenario": "fake", "seed": 0, "config": {"steps": 2}} if metadata is None else metadata
    return table.replace_schema_metadata({b"diplosim": json.dumps(record).encode()})


def _fake_run(directory: Path, run_id: str = "aaaaaaaaaaaa") -> Path:
    """A small run directory shaped like diplosim's: metrics, states and events tables."""
    directory.mkdir(parents=True)
    steps = [0, 1, 2]
    pq.write_table(_table(run_id, {"step": steps, "energy_price": [68.0, 70.0, 72.0], "cohesion_west": [0.5, 0.6, 0.7]}),
                   directory / "metrics.parquet")
    pq.write_table(_table(run_id, {"step": [0, 0], "state": ["A", "B"], "gdp": [1.0, 2.0]}), directory / "states.parquet")
    events = {"step": [1], "origin": ["scheduled"], "kind": ["summit"], "name": ["talks"], "actor": ["A"], "target": ["B"],
              "issue": ["border"], "magnitude": [1.0], "participants": [["A", "B"]], "excluded": [["C"]]}
    pq.write_table(_table(run_id, events), directory / "events.parquet")
    return directory


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncated(name: str, give_file: bool = False):
    def make(d: Path) -> Path:
        _truncate(_fake_run(d) / name)
        return d / name if give_file else d
    return make


def _replaced(name: str, write):
    def make(d: Path) -> Path:
        write(_fake_run(d) / name)
        return d
    return make


def _removed(name: str):
    def make(d: Path) -> Path:
        (_fake_run(d) / name).unlink()
        return d
    return make


def _holding(name: str | None, content: bytes = b"", give_file: bool = False):
    def make(d: Path) -> Path:
        if name is None:
            return d
        d.mkdir()
        (d / name).write_bytes(content)
        return d / name if give_file else d
    return make


# name -> (how to make the damaged run, what ``diplosim summary`` is given; text the one line must contain)
ANALYSIS_CASES = {
    "truncated_metrics": (_truncated("metrics.parquet"), "metrics.parquet: not a complete Parquet file (Parquet magic bytes"),
    "truncated_file_given": (_truncated("events.parquet", give_file=True), "events.parquet: not a complete Parquet file"),
    "empty_states_file": (_replaced("states.parquet", lambda p: p.write_bytes(b"")), "states.parquet: not a complete Parquet file"),
    "text_as_dyads": (_replaced("dyads.parquet", lambda p: p.write_text("step,src\n0,A\n")), "dyads.parquet: not a complete Parquet file"),
    "missing_directory": (_holding(None), "no such directory"),
    "no_tables": (_holding("notes.txt", b"hi"), "no diplosim tables here"),
    "only_temporaries": (_holding(".metrics.parquet.x1y2.tmp", b"PAR1half"), "no diplosim tables here"),
    "not_a_run_file": (_holding("notes.txt", b"hi", give_file=True), "notes.txt: not a run directory"),
    "events_missing": (_removed("events.parquet"), "incomplete run: events.parquet missing"),
    "metrics_missing": (_removed("metrics.parquet"), "incomplete run: metrics.parquet missing"),
    "mixed_runs": (_replaced("states.parquet", lambda p: pq.write_table(_table("bbbbbbbbbbbb", {"step": [0]}), p)),
                   "tables from different runs"),
    "no_diplosim_metadata": (_replaced("metrics.parquet", lambda p: pq.write_table(pa.table({"step": [0]}), p)),
                             "metrics.parquet: not a diplosim table"),
    "metadata_not_json": (_replaced("metrics.parquet", lambda p: pq.write_table(
        pa.table({"step": [0]}).replace_schema_metadata({b"diplosim": b"{oops"}), p)),
        "metrics.parquet: its 'diplosim' schema metadata is not valid JSON"),
}


@pytest.mark.parametrize("name", sorted(ANALYSIS_CASES))
def test_summary_of_a_damaged_run(diplosim_cli, tmp_path, name):
    make, expected = ANALYSIS_CASES[name]
    run_dir = tmp_path / "runs" / name
    run_dir.parent.mkdir()
    target = make(run_dir)
    outcome = diplosim_cli("summary", str(target))
    _assert_clean_failure(outcome, "diplosim summary", expected)
    assert str(run_dir) in outcome.err_lines[0]  # names the file or the directory
    with pytest.raises(AnalysisError) as caught:
        read_run(target)
    assert "\n" not in str(caught.value) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("argv, expected", [([], "the following arguments are required: run_dir"),
                                            (["--bogus", "x"], "unrecognized arguments")], ids=["no_argument", "bad_flag"])
def test_summary_bad_command_line(diplosim_cli, argv, expected):
    _assert_clean_failure(diplosim_cli("summary", *argv), "diplosim summary", expected)


def test_reader_ignores_temporaries_and_reads_a_whole_run(tmp_path):
    run_dir = _fake_run(tmp_path / "run")
    (run_dir / ".dyads.parquet.abcd.tmp").write_bytes(b"PAR1 half a table")
    run = read_run(run_dir)
    assert sorted(run) == ["events", "metrics", "states"]
    assert run.metadata["run_id"] == "aaaaaaaaaaaa" and run.path == run_dir
    assert run["metrics"].num_rows == 3
    assert sorted(read_run(run_dir, tables=["metrics"])) == ["metrics"]
    with pytest.raises(AnalysisError, match="unknown table"):
        read_run(run_dir, tables=["nope"])


def test_corpus_size():
    """The brief asks for at least 40 malformed inputs; count what this module runs."""
    total = len(SCENARIO_CASES) + len(OVERRIDES) + len(ACTOR_CASES) + len(BARGAIN_FLAGS) + 2 + len(ANALYSIS_CASES) + 2
    assert total >= 40, total


# --- a handful end to end, as real processes ------------------------------------------------------


def test_end_to_end_hydra_composition_error(tmp_path):
    outcome = run_diplosim("steps=abc", cwd=tmp_path)  # the default scenario, the default run directory
    _assert_clean_failure(outcome, "diplosim", "steps: Value 'abc' of type 'str' could not be converted to Integer")


def test_end_to_end_bad_scenario_file_leaves_no_run_directory(tmp_path):
    path = OLD_BAD_SCENARIOS / "unknown_state_in_tie.yaml"
    outcome = run_diplosim("scenario=synthetic", f"scenario.path={path}", *QUIET, cwd=tmp_path)
    _assert_clean_failure(outcome, "diplosim", f"scenario {path}: alliances[0].b: unknown state 'Atlantis'")


def test_end_to_end_sweep_with_a_bad_value_leaves_no_sweep_directory(tmp_path):
    outcome = run_diplosim("-m", "steps=-1,1", *SMALL_WORLD, *QUIET, cwd=tmp_path)
    _assert_clean_failure(outcome, "diplosim", "steps = -1: must be >= 0")


def test_end_to_end_summary_of_a_truncated_table(tmp_path):
    run_dir = _fake_run(tmp_path / "run")
    _truncate(run_dir / "metrics.parquet")
    work = tmp_path / "work"
    work.mkdir()
    outcome = run_diplosim("summary", str(run_dir), cwd=work)
    _assert_clean_failure(outcome, "diplosim summary", f"{run_dir / 'metrics.parquet'}: not a complete Parquet file")


def test_end_to_end_bad_actor_table(tmp_path):
    path = OLD_BAD_ACTORS / "negative_capability.csv"
    outcome = run_diplosim("bargain", str(path), "--out", str(tmp_path / "out.parquet"), cwd=tmp_path)
    _assert_clean_failure(outcome, "diplosim bargain", f"{path}: ")
