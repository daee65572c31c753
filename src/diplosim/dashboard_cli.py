"""``diplosim dashboard``: serve the interactive dashboard (``diplosim.dashboard``) in the browser.

The server runs with Solara's front-end files bundled (``solara-assets``, in the ``viz``
extra) and never reaches the network: no CDN, no version check, no telemetry, so the
dashboard works on an air-gapped machine.  Before serving it builds the model once and
compiles its step (cached in ~/.cache/diplosim/xla, or $DIPLOSIM_COMPILE_CACHE), so the
first Step in the browser is quick; it prints the address once the server is listening.
Errors are one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from diplosim.usage import OneLineParser, UsageError

PROG = "diplosim dashboard"
EXIT_USER_ERROR = 2
INSTALL_HINT = "pip install 'diplosim[viz]' (in a checkout: pip install -e '.[viz]')"
# what the dashboard imports, and the bundled front-end files it serves instead of a CDN
VIZ_MODULES = ("solara", "altair", "ipyvuetify")
VIZ_DISTRIBUTIONS = ("solara-assets",)
# Solara settings for a server that never reaches the network.  requests cannot fetch a file:
# URL, so a front-end file missing from solara-assets is a 404 at once, never a download.
OFFLINE_ENVIRONMENT = {
    "SOLARA_ASSETS_PROXY": "true",
    "SOLARA_ASSETS_CDN": "file:///offline/",
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number in [0, 65535], got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number in [0, 65535] (0: any free port), got {port}")
    return port


def _scenario(text: str) -> str:
    from diplosim.dashboard_views import scenario_names

    names = scenario_names()
    if text in names or (text.endswith((".yaml", ".yml")) and Path(text).is_file()):
        return text
    raise argparse.ArgumentTypeError(f"no scenario {text!r}; allowed: {', '.join(names)}, or the path of a scenario YAML file")


def parser() -> argparse.ArgumentParser:
    """The command line of ``diplosim dashboard``."""
    p = OneLineParser(
        prog=PROG,
        description="Serve the interactive dashboard (Mesa SolaraViz) of a scenario: networks, time series, "
        "parameter sliders, step/play/reset. Works offline. See docs/user_guide.md.",
    )
    p.add_argument("--scenario", type=_scenario, default="alaska_2025",
                   help="a scenario in conf/scenario (alaska_2025, synthetic) or a scenario YAML file (default: alaska_2025)")
    p.add_argument("--port", type=_port, default=8765, help="port to listen on, 0 for any free port (default: 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for every interface)")
    p.add_argument("--open", action="store_true", help="also open the dashboard in the web browser")
    return p


def missing_viz() -> list[str]:
    """The packages of the ``viz`` extra that are not installed."""
    missing = [name for name in VIZ_MODULES if importlib.util.find_spec(name) is None]
    for name in VIZ_DISTRIBUTIONS:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def listening_port(host: str, port: int) -> int:
    """``port`` (a free one for 0) after checking that a server can listen on ``host:port``; OSError if not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return probe.getsockname()[1]


def prepare(scenario: str) -> None:
    """Build the model once and run one step, so that its step is compiled before anyone clicks."""
    from diplosim.app import use_compile_cache
    from diplosim.dashboard_views import DashboardModel

    use_compile_cache(os.environ.get("DIPLOSIM_COMPILE_CACHE", str(Path.home() / ".cache" / "diplosim" / "xla")))
    DashboardModel(scenario).step()


def announce_when_listening(host: str, port: int, timeout: float = 120.0) -> None:
    """Print the dashboard's address once the server accepts connections on ``host:port``."""
    reach = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((reach, port), timeout=1.0).close()
        except OSError:
            time.sleep(0.1)
            continue
        shown = "localhost" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        print(f"{PROG}: open http://{shown}:{port} in a browser (Ctrl-C stops the server)", flush=True)
        return


def serve(host: str, port: int, open_browser: bool) -> None:
    """Run the Solara server on ``diplosim.dashboard`` in this process until interrupted."""
    import click
    from solara.__main__ import run

    # Solara warns on every plain-http address but "localhost" that its session cookie falls back to
    # samesite=lax, which matters only when the page is embedded in another site's iframe
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    threading.Thread(target=announce_when_listening, args=(host, port), daemon=True).start()
    args = ["diplosim.dashboard", "--host", host, "--port", str(port), "--production", "--no-check-version",
            "--open" if open_browser else "--no-open"]
    try:
        run.main(args=args, prog_name=PROG, standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):  # Ctrl-C while the server starts or stops
        pass
    print(f"{PROG}: stopped", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    """``diplosim dashboard [--scenario NAME] [--port N] [--host H] [--open]``; the exit status."""
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        return _fail(f"{err} (see {PROG} --help)")
    missing = missing_viz()
    if missing:
        return _fail(f"the dashboard needs the viz extra ({', '.join(missing)} not installed): {INSTALL_HINT}")
    try:
        port = listening_port(args.host, args.port)
    except (OSError, OverflowError) as err:
        return _fail(f"--host {args.host} --port {args.port}: cannot listen there ({err.strerror or err}); "
                     "allowed: a free port (--port 0 picks one) on an address of this machine")
    for name, value in OFFLINE_ENVIRONMENT.items():  # before Solara reads its settings
        os.environ.setdefault(name, value)
    from diplosim.dashboard_views import SCENARIO_ENV

    os.environ[SCENARIO_ENV] = args.scenario
    print(f"{PROG}: preparing {args.scenario} (compiling the model the first time takes a while)", file=sys.stderr)
    try:
        prepare(args.scenario)
    except (ValueError, OSError) as err:  # a mistake in the scenario file: ScenarioError is a ValueError
        return _fail(f"--scenario {args.scenario}: {err}")
    serve(args.host, port, args.open)
    return 0


if __name__ == "__main__":
    sys.exit(main())
