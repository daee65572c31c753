"""The batched launcher's writer processes: every job written once, by this process or a forked
child; a job a child could not complete is written here, as without writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.diplosim_batched import _writers

pytestmark = pytest.mark.skipif(not _writers.available(), reason="writer processes are forked on Linux only")


def test_shares_are_contiguous_and_never_empty():
    assert _writers.shares(list(range(10)), 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert _writers.shares(list(range(2)), 4) == [[0], [1]]
    assert _writers.auto_writers(3) == 1  # fewer than MIN_SHARE jobs a writer: this process alone
    assert 1 <= _writers.auto_writers(1000) <= _writers.MAX_WRITERS


def _writer(tmp_path: Path, fail=lambda item: False):
    """A job that writes a file naming the process that wrote it; ``fail(item)``: raise there instead."""
    parent = os.getpid()

    def write(item: int) -> JobReturn:
        in_child = os.getpid() != parent
        if fail(item) and in_child:
            print(f"job {item} failed in a child", file=sys.stderr)
            raise SystemExit(2)
        print(f"job {item} wrote", file=sys.stderr)
        (tmp_path / f"{item}.txt").write_text(str(os.getpid()))
        return JobReturn(overrides=[f"seed={item}"], task_name="app", working_dir=str(tmp_path), status=JobStatus.COMPLETED,
                         _return_value={"job": item})

    return write


def test_every_job_is_written_once_across_processes(tmp_path, capfd):
    returns = _writers.write_jobs(list(range(10)), _writer(tmp_path), 3, key=lambda i: i, overrides=lambda i: [f"seed={i}"])
    assert sorted(returns) == list(range(10))
    for i, ret in returns.items():
        assert ret.status == JobStatus.COMPLETED and ret.return_value == {"job": i} and ret.overrides == [f"seed={i}"]
        assert ret.task_name == "app" and ret.working_dir == str(tmp_path)
    writers = {int((tmp_path / f"{i}.txt").read_text()) for i in range(10)}
    assert len(writers) == 3 and os.getpid() in writers
    err = capfd.readouterr().err
    assert all(err.count(f"job {i} wrote") == 1 for i in range(10))


def test_a_job_a_child_could_not_complete_is_written_here_and_reported_once(tmp_path, capfd):
    returns = _writers.write_jobs(list(range(10)), _writer(tmp_path, fail=lambda i: i == 7), 3,
                                  key=lambda i: i, overrides=lambda i: [f"seed={i}"])
    assert all(ret.status == JobStatus.COMPLETED for ret in returns.values()) and sorted(returns) == list(range(10))
    child = int((tmp_path / "6.txt").read_text())
    assert child != os.getpid()
    # the child stopped at job 7: 7 and the rest of its share (8, 9) are written here
    assert [int((tmp_path / f"{i}.txt").read_text()) == os.getpid() for i in (7, 8, 9)] == [True] * 3
    err = capfd.readouterr().err
    assert "job 7 failed in a child" not in err  # its failed attempt's output is dropped
    assert err.count("job 7 wrote") == 1


def test_an_error_of_a_job_is_raised_here_as_without_writers(tmp_path):
    def write(item: int) -> JobReturn:
        if item == 5:
            raise SystemExit(2)
        return JobReturn(status=JobStatus.COMPLETED)

    before = _children()
    with pytest.raises(SystemExit):
        _writers.write_jobs(list(range(8)), write, 2, key=lambda i: i, overrides=lambda i: [])
    with pytest.raises(SystemExit):  # in this process's own share: the child is waited for, not left behind
        _writers.write_jobs(list(range(8)), lambda i: write(i + 4), 2, key=lambda i: i, overrides=lambda i: [])
    assert _children() <= before  # no writer left running or unreaped (a zombie is still listed)


def _children() -> set[int]:
    """This process's child processes, running or not yet reaped (those of a pytest-xdist worker's
    own included, hence a comparison and not ``os.waitpid(-1)``)."""
    return {int(pid) for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}


def test_a_child_that_dies_leaves_its_jobs_to_this_process(tmp_path):
    parent = os.getpid()
    write = _writer(tmp_path)

    def dying(item: int) -> JobReturn:
        if item == 8 and os.getpid() != parent:
            os._exit(9)  # killed half-way: nothing reported
        return write(item)

    returns = _writers.write_jobs(list(range(10)), dying, 2, key=lambda i: i, overrides=lambda i: [])
    assert sorted(returns) == list(range(10))
    assert int((tmp_path / "9.txt").read_text()) == os.getpid()


def test_writers_die_with_the_sweep(tmp_path):
    """A sweep killed part-way leaves no child writing behind it (``PR_SET_PDEATHSIG``)."""
    script = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from hydra.core.utils import JobReturn, JobStatus
        from hydra_plugins.diplosim_batched import _writers
        parent = os.getpid()
        def write(item):
            if os.getpid() != parent:
                Path({str(tmp_path)!r}, "child").write_text(str(os.getpid()))
                time.sleep(120)
            else:
                time.sleep(120)
            return JobReturn(status=JobStatus.COMPLETED)
        _writers.write_jobs([0, 1], write, 2, key=lambda i: i, overrides=lambda i: [])
    """)
    sweep = subprocess.Popen([sys.executable, "-c", script])
    marker = tmp_path / "child"
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(marker.read_text())
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (its parent, the killed sweep, is gone; init reaps it)


def test_jobs_are_written_here_when_no_process_can_start(tmp_path, monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(_writers.os, "fork", no_fork)
    returns = _writers.write_jobs(list(range(6)), _writer(tmp_path), 3, key=lambda i: i, overrides=lambda i: [])
    assert sorted(returns) == list(range(6))
    assert {int((tmp_path / f"{i}.txt").read_text()) for i in range(6)} == {os.getpid()}
