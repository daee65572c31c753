"""``diplosim.process``: the command starts itself again with glibc's huge-page tunable where the
kernel gives huge pages on request, in the same process, and XLA's buffers then get them."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diplosim import process

ON_REQUEST = "madvise"
NEW_GLIBC = (2, 36)


@pytest.mark.parametrize(
    "environ, mode, glibc, expected",
    [
        ({}, ON_REQUEST, NEW_GLIBC, True),
        ({}, ON_REQUEST, (2, 35), True),
        ({}, ON_REQUEST, (2, 34), False),  # glibc without the tunable
        ({}, ON_REQUEST, (), False),  # another C library
        ({}, "always", NEW_GLIBC, False),  # the kernel gives them anyway
        ({}, "never", NEW_GLIBC, False),
        ({}, "", NEW_GLIBC, False),  # no such setting (not Linux, or a kernel without them)
        ({"DIPLOSIM_HUGE_PAGES": "0"}, ON_REQUEST, NEW_GLIBC, False),
        ({"DIPLOSIM_HUGE_PAGES": "Off"}, ON_REQUEST, NEW_GLIBC, False),
        ({"DIPLOSIM_HUGE_PAGES": "1"}, ON_REQUEST, NEW_GLIBC, True),
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, ON_REQUEST, NEW_GLIBC, False),  # already started again
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, ON_REQUEST, NEW_GLIBC, False),  # the user's choice
        ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, ON_REQUEST, NEW_GLIBC, True),
    ],
)
def test_wanted(environ, mode, glibc, expected):
    assert process.wanted(environ, mode, glibc) is expected


def test_environment_adds_the_tunable_to_the_others():
    assert process.environment({"A": "1"}) == {"A": "1", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    added = process.environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert added["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    assert process.active(added) and not process.active({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})


def test_kernel_mode_reads_the_bracketed_setting(tmp_path):
    setting = tmp_path / "enabled"
    setting.write_text("always [madvise] never\n")
    assert process.kernel_mode(setting) == "madvise"
    setting.write_text("[always] madvise never\n")
    assert process.kernel_mode(setting) == "always"
    assert process.kernel_mode(tmp_path / "missing") == ""


def _clean_environ(**extra) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", process.SWITCH)}
    return {**environ, "JAX_PLATFORMS": "cpu", **extra}


REPORT = "import os; from diplosim.process import use_huge_pages; use_huge_pages(); print(os.getpid(), os.environ.get('GLIBC_TUNABLES'))"


def test_the_process_starts_again_in_place_with_the_tunable_where_wanted():
    expected = process.wanted(_clean_environ(), process.kernel_mode(), process.glibc_version())
    child = subprocess.Popen([sys.executable, "-c", REPORT], env=_clean_environ(), stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=120)
    pid, tunables = out.split()
    assert int(pid) == child.pid  # the same process, its command run again from the start
    assert tunables == ("glibc.malloc.hugetlb=1" if expected else "None")
    off = subprocess.run([sys.executable, "-c", REPORT], env=_clean_environ(DIPLOSIM_HUGE_PAGES="0"),
                         capture_output=True, text=True, timeout=120)
    assert off.stdout.split()[1] == "None"


def test_the_diplosim_command_starts_through_it():
    (script,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "diplosim"]
    assert script.value == "diplosim.process:entry"
    assert "from diplosim.process import entry" in (Path(process.__file__).parent / "__main__.py").read_text()


HUGE = ("import jax, jax.numpy as jnp; from diplosim.process import use_huge_pages; use_huge_pages();"
        "x = jax.block_until_ready(jnp.ones(64 * 2**20) * 2);"  # 256 MB, allocated by XLA
        "print([l for l in open('/proc/self/smaps_rollup') if l.startswith('AnonHugePages')][0].split()[1])")


@pytest.mark.skipif(not process.wanted(_clean_environ(), process.kernel_mode(), process.glibc_version()),
                    reason="this machine's kernel or C library gives no huge pages on request")
def test_xla_buffers_get_huge_pages():
    def huge_kb(**extra) -> int:
        done = subprocess.run([sys.executable, "-c", HUGE], env=_clean_environ(**extra), capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return int(re.findall(r"\d+", done.stdout)[-1])

    with_them, without = huge_kb(), huge_kb(DIPLOSIM_HUGE_PAGES="0")
    assert with_them >= without + 128 * 1024, (with_them, without)  # at least half of the 256 MB array
