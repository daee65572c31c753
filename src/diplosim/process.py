"""How a ``diplosim`` process starts: XLA's CPU buffers on huge pages, then the command.

A step of a large world reads its dyad arrays at random places (a dyad's reverse, its sending
state), and with the kernel's 4 KiB pages nearly every such read also misses the processor's
table of page addresses (its TLB covers a few MiB; a 10^6-state world holds 40 MB per dyad
array).  Linux backs memory with 2 MiB pages instead ("transparent huge pages") where the
process asks for them, which is the kernel's default setting on most distributions
(``/sys/kernel/mm/transparent_hugepage/enabled`` = ``madvise``).  numpy asks for its large
arrays; XLA's CPU runtime allocates through glibc's ``malloc``, which asks only when the
environment says so at the process's start: ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (glibc
2.35 and later).

So the ``diplosim`` command, where that helps, starts itself again at once with that setting
(``os.execve``, before anything else is imported; the same process id, arguments and streams).
On the 2-core CPU of ``benchmarks/``, the 10^6-state step took 16% less time with it (median of
five rounds, 829 to 698 ms; ``benchmarks/ROOFLINE.md``, change 20).  ``DIPLOSIM_HUGE_PAGES=0`` turns it off.  In your own
Python process (a notebook, a script calling ``diplosim.engine``), set the variable before
Python starts: ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python script.py``.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

TUNABLE = "glibc.malloc.hugetlb=1"
SWITCH = "DIPLOSIM_HUGE_PAGES"  # 0, off, no or false: leave the process as it is
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")
MIN_GLIBC = (2, 35)  # the first with glibc.malloc.hugetlb


def kernel_mode(setting: Path = THP_SETTING) -> str:
    """The kernel's transparent huge pages setting (always, madvise or never); "" where there is none."""
    try:
        text = setting.read_text()
    except OSError:
        return ""
    chosen = [word[1:-1] for word in text.split() if word.startswith("[") and word.endswith("]")]
    return chosen[0] if chosen else ""


def glibc_version() -> tuple[int, ...]:
    """This process's glibc version; () where it runs on another C library."""
    library, version = platform.libc_ver()
    if library != "glibc":
        return ()
    try:
        return tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return ()


def active(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``environ`` (this process's, by default) asks glibc for huge pages."""
    return TUNABLE in environ.get("GLIBC_TUNABLES", "").split(":")


def wanted(environ: Mapping[str, str], mode: str, glibc: tuple[int, ...]) -> bool:
    """Whether a process with ``environ``, under the kernel setting ``mode`` and on ``glibc``, should
    start again with the tunable: only where the kernel gives huge pages on request (``madvise``;
    with ``always`` it gives them anyway), glibc knows the tunable, the environment does not set it
    already (either way) and the user has not turned it off."""
    if environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return False
    if "glibc.malloc.hugetlb" in environ.get("GLIBC_TUNABLES", ""):
        return False  # set by the user, or by this module before the restart
    return mode == "madvise" and bool(glibc) and glibc >= MIN_GLIBC


def environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the tunable added to ``GLIBC_TUNABLES`` (whose other tunables are kept)."""
    tunables = [t for t in environ.get("GLIBC_TUNABLES", "").split(":") if t]
    return {**environ, "GLIBC_TUNABLES": ":".join([*tunables, TUNABLE])}


def use_huge_pages() -> None:
    """Start this process again with the tunable, where ``wanted``; else return.

    Call it first thing in a program's entry point: the new process runs the same command line
    (``sys.orig_argv``) from the start, and whatever this one did before is done again there.
    """
    if not sys.platform.startswith("linux") or not sys.executable:
        return
    if not wanted(os.environ, kernel_mode(), glibc_version()):
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment(os.environ))
    except OSError:
        return  # could not start again: run on with the usual pages


def entry() -> None:
    """The ``diplosim`` command and ``python -m diplosim`` (``diplosim.cli.entry``, on huge pages)."""
    use_huge_pages()
    from diplosim.cli import entry as run

    run()
