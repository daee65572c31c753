"""The ``diplosim`` command ends its process as soon as ``main`` returns (``cli.entry``): what it
printed and logged is all there, and an error still ends it as usual."""

from __future__ import annotations

import logging
import sys

import pytest

from diplosim import cli
from reliability.runs import QUICK_RUN, run_diplosim


def test_the_command_prints_everything_before_it_ends(tmp_path):
    done = run_diplosim(*QUICK_RUN, cwd=tmp_path)  # stdout is a pipe here: block-buffered until flushed
    assert done.code == 0, done.err
    assert done.out.rstrip().splitlines()[-1].startswith("tables: ")  # the summary's last line


def test_entry_flushes_and_ends_the_process_after_main(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main"))
    monkeypatch.setattr(logging, "shutdown", lambda: calls.append("logs"))
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"flush": lambda self: calls.append("stdout")})())

    def ended(status):
        calls.append(f"exit {status}")
        raise SystemExit(status)

    monkeypatch.setattr(cli.os, "_exit", ended)
    with pytest.raises(SystemExit):
        cli.entry()
    assert calls == ["main", "logs", "stdout", "exit 0"]


def test_an_error_ends_the_process_as_usual(monkeypatch):
    def failing():
        raise SystemExit(2)

    monkeypatch.setattr(cli, "main", failing)
    monkeypatch.setattr(cli.os, "_exit", lambda status: pytest.fail("os._exit after an error"))
    with pytest.raises(SystemExit) as caught:
        cli.entry()
    assert caught.value.code == 2
