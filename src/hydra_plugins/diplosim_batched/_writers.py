"""Writing a call's jobs in several processes: each job's ``run_job`` (its records, tables, plot and
log) is Python work, one core's worth per process, while the simulation is done for all of them.

After a ``simulate_batch`` call the launcher has every job's result in memory; what is left is
each job's Hydra steps and task (``_core._run``), about 30 ms a job on a 2-core CPU, most of a
batched sweep's time.  ``write_jobs`` forks ``writers - 1`` children, each writing a contiguous
share of the jobs exactly as this process would (the same function, the same config objects,
copied by the fork), while this process writes the first share.  Hydra's joblib launcher also
runs jobs in worker processes: as there, a job's callbacks (``on_job_start``, ``on_job_end``)
run in the process that writes it.

Only jobs that complete come back from a child (their number, task name and working directory).
A child stops at the first job that does not complete (a failed task, a user's error, anything
raised) and this process writes that job and the rest of the child's share itself, one by one as
without writers: the error, its traceback or one-line message and the exit status are the ones
a sweep without writers gives.  A child that dies (killed, out of memory) is treated the same.
A child is killed with this process (``PR_SET_PDEATHSIG``), so a sweep killed part-way leaves
no process writing behind it; its jobs are then incomplete, and resumed as any other.

Forking a process that runs JAX is safe here because a child never calls JAX: the results are
host arrays, and a child only writes files and exits with ``os._exit`` (no ``atexit``
handlers).  Writers are used on Linux only (``fork`` with threads is unsafe on macOS, absent on
Windows).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

log = logging.getLogger(__name__)

MAX_WRITERS = 8  # the automatic number of writers never exceeds this many processes
MIN_SHARE = 4  # the automatic number of writers leaves each at least this many jobs (a fork costs a job's time)


def available() -> bool:
    """Whether jobs can be written by forked processes on this platform."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def auto_writers(jobs: int) -> int:
    """Processes for ``jobs`` jobs: one per core this process may use, at most ``MAX_WRITERS``,
    each with at least ``MIN_SHARE`` jobs."""
    if not available():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WRITERS, jobs // MIN_SHARE))


def shares(items: Sequence[Any], writers: int) -> list[Sequence[Any]]:
    """``items`` cut into ``writers`` contiguous shares of sizes differing by at most one (no empty share)."""
    n = max(1, min(writers, len(items)))
    return [items[len(items) * k // n:len(items) * (k + 1) // n] for k in range(n)]


def write_jobs(items: Sequence[Any], write: Callable[[Any], JobReturn], writers: int, key: Callable[[Any], int],
               overrides: Callable[[Any], list[str]]) -> dict[int, JobReturn]:
    """``{key(item): write(item)}`` for every item, in ``writers`` processes (see the module's docstring).

    ``write`` runs an item's job and returns its ``JobReturn``; this process writes the first
    share, then takes back each child's completed jobs in order and writes the rest itself.  A
    job written by a child returns its overrides (``overrides(item)``), status, task name,
    working directory and return value; not its configs (Hydra's sweepers read the return value).
    """
    parts = shares(items, writers) if writers > 1 and available() else [items]
    children = [_fork(part, write, key) for part in parts[1:]]
    try:
        returns = {key(item): write(item) for item in parts[0]}
    except BaseException:  # a job of this process's share stopped the sweep: the children finish theirs first
        for child in children:
            if child is not None:
                _collect(*child)
        raise
    for child, part in zip(children, parts[1:]):
        done = {} if child is None else _collect(*child)
        for item in part:
            k = key(item)
            if k in done:
                name, working_dir, value = done[k]
                returns[k] = JobReturn(overrides=overrides(item), working_dir=working_dir, task_name=name,
                                       status=JobStatus.COMPLETED, _return_value=pickle.loads(value))
            else:  # the child stopped before this job: written here, as without writers
                returns[k] = write(item)
    return returns


def _fork(part: Sequence[Any], write: Callable[[Any], JobReturn], key: Callable[[Any], int]) -> tuple[int, int] | None:
    """A child writing ``part``; its pid and the read end of the pipe its completed jobs come back
    on (None if no process could be started: this process writes ``part``)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    parent = os.getpid()
    pipe: tuple[int, int] | None = None
    try:
        read, written = pipe = os.pipe()
        with warnings.catch_warnings():  # JAX's and Python's warnings about forking threads: the child runs no JAX
            warnings.simplefilter("ignore")
            pid = os.fork()
    except OSError as err:  # out of processes, files or memory
        for fd in pipe or ():
            os.close(fd)
        log.warning(f"no writer process ({err}); its jobs are written by this one")
        return None
    if pid:
        os.close(written)
        return pid, read
    status = 1
    try:  # the child: never returns
        os.close(read)
        _die_with(parent)
        payload = pickle.dumps(_write_share(part, write, key))
        with os.fdopen(written, "wb") as stream:
            stream.write(payload)
        status = 0
    except BaseException:  # noqa: BLE001 - its jobs are written again by the parent, which reports any error
        pass
    finally:
        logging.shutdown()  # the jobs' log files flushed and closed
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - nothing more can be done in the child
                pass
        os._exit(status)


def _write_share(part: Sequence[Any], write: Callable[[Any], JobReturn], key: Callable[[Any], int]) -> list[tuple]:
    """In a child: write the jobs up to the first that does not complete; (key, task name, working
    directory, return value) of each completed one.  What a job prints on stderr is held until it
    completes: the parent writes a job that did not, and reports its error once."""
    done = []
    for item in part:
        held = io.StringIO()
        try:
            with contextlib.redirect_stderr(held):
                ret = write(item)
            if ret.status != JobStatus.COMPLETED:
                break
            value = pickle.dumps(ret.return_value)
        except BaseException:  # noqa: BLE001 - a user's error (SystemExit), a bug, an unpicklable return value
            break
        sys.stderr.write(held.getvalue())
        done.append((key(item), ret.task_name, ret.working_dir, value))
    return done


def _collect(pid: int, pipe: int) -> dict[int, tuple]:
    """The jobs a child completed: key -> (task name, working directory, pickled return value);
    empty if it died before reporting."""
    with os.fdopen(pipe, "rb") as stream:
        payload = stream.read()
    os.waitpid(pid, 0)
    try:
        done = pickle.loads(payload) if payload else []
    except Exception:  # noqa: BLE001 - a child killed while writing its report: its jobs are written again
        done = []
    return {k: (name, working_dir, value) for k, name, working_dir, value in done}


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux's ``PR_SET_PDEATHSIG``)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
