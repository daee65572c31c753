"""The ``diplosim`` command ends its process as soon as ``main`` returns (``cli.entry``): what it
printed and logged is all there, and an error still ends it as usual."""

from __future__ import annotations

import subprocess
import sys

import pytest

from diplosim import cli
from reliability.runs import QUICK_RUN, run_diplosim


def test_the_command_prints_everything_before_it_ends(tmp_path):
    done = run_diplosim(*QUICK_RUN, cwd=tmp_path)  # stdout is a pipe here: block-buffered until flushed
    assert done.code == 0, done.err
    assert done.out.rstrip().splitlines()[-1].startswith("tables: ")  # the summary's last line


def test_exit_handlers_run_before_the_process_ends(tmp_path):
    """What the process registered to run at exit runs (the joblib launcher's workers are shut
    down there: left running, they would hold the command's output open)."""
    script = ("import atexit, sys; from diplosim import cli; "
              "atexit.register(lambda: print('exit handler ran', flush=True)); "
              "cli.main = lambda: print('main ran'); cli.entry()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["main ran", "exit handler ran"]


def test_entry_flushes_and_ends_the_process_after_main(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main"))
    monkeypatch.setattr(cli, "_has_children", lambda: False)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: calls.append("atexit"))
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"flush": lambda self: calls.append("stdout")})())

    def ended(status):
        calls.append(f"exit {status}")
        raise SystemExit(status)

    monkeypatch.setattr(cli.os, "_exit", ended)
    with pytest.raises(SystemExit):
        cli.entry()
    assert calls == ["main", "atexit", "stdout", "exit 0"]


def test_an_error_ends_the_process_as_usual(monkeypatch):
    def failing():
        raise SystemExit(2)

    monkeypatch.setattr(cli, "main", failing)
    monkeypatch.setattr(cli.os, "_exit", lambda status: pytest.fail("os._exit after an error"))
    with pytest.raises(SystemExit) as caught:
        cli.entry()
    assert caught.value.code == 2


def test_a_process_with_children_running_ends_as_usual(tmp_path):
    """The joblib launcher's workers are stopped by the interpreter's teardown: left running, they
    would hold the command's output open for minutes."""
    script = ("import subprocess, sys; from diplosim import cli; "
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              "cli.main = lambda: None; cli.entry(); "
              "print('returned', cli._has_children(), flush=True); child.kill(); child.wait(); "
              "print('then', cli._has_children())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["returned True", "then False"]
