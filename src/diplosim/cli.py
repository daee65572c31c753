"""The ``diplosim`` command: a Hydra app (``diplosim key=value ...``, ``diplosim -m ...`` for sweeps).

``diplosim bargain actors.csv`` runs the bargaining model alone; ``diplosim summary <run_dir>``
prints a finished run's key metrics from its files.

A user's mistake, whether Hydra finds it (an unknown key, a wrong type, an unparsable override)
or the run does (a bad value, a bad scenario file), ends the same way: one line on stderr,
``diplosim: error: <where>: <what is wrong>; allowed: ...``, exit status 2, and no output
directory left behind.  A bug keeps its traceback and exits with status 1.  Ctrl-C ends with one
line too, and exit status 130.
"""

from __future__ import annotations

import atexit
import difflib
import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from diplosim.config import register_configs
from diplosim.usage import UsageError

register_configs()
# not JAX's notice of a missing TPU on every run (the batched launcher starts JAX before any job)
logging.getLogger("jax").setLevel(logging.WARNING)

PROG = "diplosim"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C (128 + SIGINT)
# Mistakes that surface inside the run: bad values (ValueError, which ScenarioError and
# OmegaConf's interpolation errors are), unreadable or unwritable paths (OSError) and
# OmegaConf's missing values.
USER_ERRORS = (ValueError, OSError, OmegaConfBaseException)
# what a run writes into its directory, and so the temporaries a killed run may leave there
RUN_OUTPUTS = ("metrics.parquet", "states.parquet", "dyads.parquet", "events.parquet", "metrics.png")

# Exceptions that escaped the task function: bugs, whose traceback must reach the user.
_task_failures: list[BaseException] = []


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def fail(message: str) -> None:
    """Report a user's mistake as one line on stderr and exit with status 2."""
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def app(cfg: DictConfig) -> None:
    try:
        _job(cfg)
    except SystemExit:
        raise
    except BaseException as err:
        _task_failures.append(err)
        raise


def _job(cfg: DictConfig) -> None:
    """One Hydra job: run, print the summary; on a user's mistake, one line and no output left."""
    from diplosim.app import run, summary
    from diplosim.sweep import job_overrides

    hydra_cfg = HydraConfig.get()
    job_dir = Path(hydra_cfg.runtime.output_dir)
    made_by_hydra = _holds_only_hydra_files(job_dir, hydra_cfg)
    out_dir, earlier = job_dir, None
    try:
        out_dir = Path(cfg.output.dir) if cfg.output.dir else job_dir
        earlier = _discard_temporaries(out_dir)
        result = run(cfg, out_dir, overrides=job_overrides(cfg, hydra_cfg))  # the overrides become columns
    except USER_ERRORS as err:
        # the run checks everything it can before it writes; a full or read-only disk can still
        # stop it half-way, and the tables it wrote then go too
        for name in RUN_OUTPUTS if earlier is not None else ():
            if name not in earlier:
                (out_dir / name).unlink(missing_ok=True)
        if made_by_hydra:
            _remove_job_dir(job_dir, hydra_cfg)
        fail(describe_error(err))
    print(summary(result))


# --- what Hydra leaves in a job's directory, and removing it after a user's mistake -------------


def _hydra_files(hydra_cfg) -> set[str]:
    """Names Hydra itself creates in a job directory: its record of the config and the job's log."""
    names = {f"{hydra_cfg.job.name}.log"}
    if hydra_cfg.output_subdir:
        names.add(str(hydra_cfg.output_subdir))
    return names


def _holds_only_hydra_files(job_dir: Path, hydra_cfg) -> bool:
    """Whether ``job_dir`` holds nothing but what Hydra made for this job (so the job may remove it)."""
    try:
        return {p.name for p in job_dir.iterdir()} <= _hydra_files(hydra_cfg)
    except OSError:
        return False


def _remove_job_dir(job_dir: Path, hydra_cfg) -> None:
    """Remove what Hydra made for this job: its files, then the directory and the parents left empty."""
    root = logging.getLogger()
    for handler in list(root.handlers):  # the job's log file is open in the directory
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == job_dir:
            root.removeHandler(handler)
            handler.close()
    _remove_if_only(job_dir, _hydra_files(hydra_cfg))
    if hydra_cfg.mode == RunMode.MULTIRUN:
        job_dir = Path(str(hydra_cfg.sweep.dir)).absolute()
        _remove_if_only(job_dir, {"multirun.yaml"})  # the sweep's first job failed
    _remove_empty_parents(job_dir.absolute())


def _remove_if_only(directory: Path, names: set[str]) -> None:
    """Remove ``names`` from ``directory`` if it holds nothing else, then the directory itself
    (never the working directory or one above it: ``hydra.run.dir=.`` is allowed)."""
    try:
        if not {p.name for p in directory.iterdir()} <= names:
            return
    except OSError:
        return
    for name in names:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    cwd = Path.cwd()
    if directory.absolute() != cwd and directory.absolute() not in cwd.parents:
        try:
            directory.rmdir()
        except OSError:
            pass


def _remove_empty_parents(path: Path) -> None:
    """Remove the empty directories above ``path`` (``outputs/runs/<date>``) inside the working directory."""
    cwd = Path.cwd()
    for parent in path.parents:
        if cwd not in parent.parents:
            return
        try:
            parent.rmdir()
        except OSError:  # not empty, or not ours to remove
            return


def _discard_temporaries(out_dir: Path) -> set[str]:
    """Remove the temporary files a killed run left behind (``.<output>.<random>.tmp``); the names
    of the files that are left."""
    if not out_dir.is_dir():
        return set()
    for path in out_dir.iterdir():
        if path.name.endswith(".tmp") and any(path.name.startswith(f".{name}.") for name in RUN_OUTPUTS):
            path.unlink(missing_ok=True)
    return {path.name for path in out_dir.iterdir()}


# --- one line for each kind of mistake ------------------------------------------------------------


def describe_error(err: BaseException) -> str:
    """A one-line description of a user's mistake: where, what is wrong, what is allowed."""
    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(err, MissingConfigException):
        return _missing_config(err)
    if isinstance(err, OverrideParseException):
        return (
            f"override {err.override!r}: cannot parse it ({one_line(str(err.message).splitlines()[0])}); "
            "allowed: key=value, +key=value, ~key (https://hydra.cc/docs/advanced/override_grammar/basic/)"
        )
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, OmegaConfBaseException) and cause.full_key:
        where = _override_of(err)
        return f"{where}{_config_error(cause)}"
    lines = [line for line in str(err).splitlines() if "HYDRA_FULL_ERROR" not in line]
    return one_line(" ".join(lines)) or type(err).__name__


def _override_of(err: BaseException) -> str:
    """``override steps=abc: `` from Hydra's 'Error merging override steps=abc'."""
    text = str(err)
    prefix = "Error merging override "
    return f"override {text[len(prefix):].split()[0]}: " if text.startswith(prefix) else ""


def _config_error(err: OmegaConfBaseException) -> str:
    """``<key>: <what is wrong>; allowed: <what the schema declares>``."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    from diplosim.app import allowed_keys, schema_at

    key = str(err.full_key)
    section, _, name = key.rpartition(".")
    if isinstance(err, (ConfigAttributeError, ConfigKeyError)) and schema_at(key) is None and allowed_keys(section):
        allowed = allowed_keys(section)
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{key}: unknown config key{hint}; allowed: {', '.join(allowed)}"
    message = one_line(str(err.msg or err).splitlines()[0])
    expected = "" if "deletion" in message else _describe_type(schema_at(key))
    return f"{key}: {message}" + (f"; allowed: {expected}" if expected else "")


def _describe_type(declared) -> str:
    """'a whole number', 'true or false', ... for a type of the structured config."""
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
    if declared in names:
        return names[declared]
    args = [a for a in getattr(declared, "__args__", ()) if a is not type(None)]
    if len(args) == 1 and args[0] in names and type(None) in declared.__args__:
        return f"{names[args[0]]} or null"
    return ""


# launcher configs that come with a plugin package, not with diplosim itself: the package, the extra that brings it
PLUGIN_CONFIGS = {
    "hydra/launcher/joblib": ("hydra-joblib-launcher", "launchers"),
    "hydra/launcher/submitit_local": ("hydra-submitit-launcher", "launchers"),
    "hydra/launcher/submitit_slurm": ("hydra-submitit-launcher", "launchers"),
    "hydra/launcher/ray": ("hydra-ray-launcher", "ray"),
}


def _missing_config(err) -> str:
    """``scenario=nope: no such option; allowed: alaska_2025, synthetic``; for a launcher whose
    plugin is not installed, what to install."""
    missing = str(err.missing_cfg_file or "")
    group, _, name = missing.rpartition("/")
    if missing in PLUGIN_CONFIGS:
        package, extra = PLUGIN_CONFIGS[missing]
        asked = next((a for a in sys.argv[1:] if a.split("=")[0].lstrip("+") == "hydra/launcher"), f"{group}={name}")
        return (f"{asked}: needs the launcher plugin {package}, which is not installed; "
                f"allowed: pip install -e '.[{extra}]' (or pip install {package}) first, or another launcher")
    if group and err.options is not None:
        options = [o for o in err.options if not o.endswith("_schema")]
        return f"{group}={name}: no such {group} config; allowed: {', '.join(options)}"
    if missing:
        return f"config {missing!r}: not found; allowed: config (the default)"
    return one_line(str(err).splitlines()[0])


# --- the command line -----------------------------------------------------------------------------


def _check_command_line(argv: list[str]) -> None:
    """Parse ``argv`` with Hydra's own parser first, so that a bad flag is one line, not a usage page."""
    from hydra._internal.utils import get_args_parser  # what hydra.main parses sys.argv with

    parser = get_args_parser()

    def error(message: str):
        raise UsageError(message)

    parser.error = error
    parser.parse_args(argv)


def _run_app() -> None:
    """Run the Hydra app; a configuration Hydra rejects is reported in one line, exit status 2.

    Hydra reports its own errors (composition, overrides, missing configs) in ``run_and_report``:
    several lines on stderr and ``sys.exit(1)``, the same exit as a bug in the task.  Setting
    ``HYDRA_FULL_ERROR=1`` while it runs makes it raise the exception instead, so we can tell
    the two apart: an exception the task function let out (recorded in ``_task_failures``) is a
    bug and is raised again with its traceback; any other one was raised by Hydra or OmegaConf
    before the task ran, and is the user's.  A user who set ``HYDRA_FULL_ERROR=1`` gets Hydra's
    tracebacks, as Hydra documents.
    """
    try:
        _check_command_line(sys.argv[1:])
    except UsageError as err:
        if "unrecognized arguments" in str(err) and "=" in str(err):  # argparse takes the overrides as one group
            fail(f"{err}; allowed: the flags first, then all the overrides (diplosim -m seed=1,2 steps=52)")
        fail(f"{err} (see diplosim --help)")
    user_wants_tracebacks = os.environ.get("HYDRA_FULL_ERROR") == "1"
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _task_failures.clear()
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C: one line, not the traceback of wherever it landed
        print(f"{PROG}: interrupted; the same command run again finishes a sweep (the jobs that were complete "
              "are kept, the others run)", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        if user_wants_tracebacks or any(err is failure for failure in _task_failures):
            raise
        _remove_sweep_dir(err)
        fail(describe_error(err))
    finally:
        _task_failures.clear()
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def _remove_sweep_dir(err: BaseException) -> None:
    """Remove the sweep directory of a ``-m`` run whose jobs' configs failed to compose.

    Hydra's sweeper creates the directory and writes ``multirun.yaml`` into it before it composes
    the jobs' configs, and nothing else records where it is: we take it from the sweeper's frame
    in the traceback, and remove it only if it holds nothing else.
    """
    from hydra.plugins.sweeper import Sweeper

    tb = err.__traceback__
    while tb is not None:
        sweeper = tb.tb_frame.f_locals.get("self")
        if isinstance(sweeper, Sweeper) and getattr(sweeper, "config", None) is not None:
            try:
                sweep_dir = Path(str(sweeper.config.hydra.sweep.dir)).absolute()
            except OmegaConfBaseException:
                return
            _remove_if_only(sweep_dir, {"multirun.yaml"})
            _remove_empty_parents(sweep_dir)
            return
        tb = tb.tb_next


SUBCOMMANDS = {"bargain": "diplosim.bargain_cli", "summary": "diplosim.analysis", "dashboard": "diplosim.dashboard_cli"}


def main() -> None:
    """``diplosim [hydra overrides]`` runs a scenario; ``diplosim bargain|summary|dashboard ...`` run the other tools."""
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        import importlib

        command = importlib.import_module(SUBCOMMANDS[sys.argv[1]])
        sys.exit(command.main(sys.argv[2:]))
    _run_app()


def entry() -> None:
    """The ``diplosim`` command and ``python -m diplosim``: ``main``, then the process ends at once.

    When ``main`` returns, everything the command writes is written and closed.  What is left is
    what was registered to run at exit (``atexit``: logs flushed, JAX's backends closed), which
    runs here, and the interpreter's teardown of what a sweep leaves in memory (its jobs'
    configs, JAX's programs), which is skipped: 0.5 s of a 13 s batched sweep on a 2-core CPU.
    A process with children still running (the joblib launcher's workers, which the teardown
    stops) ends as usual, as does one whose ``main`` raised (``SystemExit``, a traceback); and
    ``main`` called in-process returns as usual.
    """
    main()
    if _has_children():
        return
    atexit._run_exitfuncs()  # what a normal exit would run
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def _has_children() -> bool:
    """Whether a child process of this one is still running (those that ended are reaped); True
    where that cannot be told."""
    if not hasattr(os, "WNOHANG"):
        return True
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass  # a child that had ended, reaped: look again
    except ChildProcessError:
        return False  # none at all
    return True


if __name__ == "__main__":
    entry()
