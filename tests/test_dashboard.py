"""The dashboard: its figures, its command line, its page, and (marked ``browser``) the served
page in headless Chromium, offline.

The browser test is opt-in (``make test-browser``): it needs the viz extra, selenium, and
Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.patches import FancyArrowPatch

from diplosim import dashboard_cli
from diplosim.dashboard_views import (
    BLOC_COLOURS,
    MAX_DRAWN_STATES,
    MAX_TRADE_FLOWS,
    MIN_ALLIANCE_DRAWN,
    SLIDERS,
    DashboardModel,
    alliance_figure,
    alliance_widths,
    coefficient_default,
    cohesion_figure,
    home_front_figure,
    relations_figure,
    trade_figure,
)
from diplosim.params import Params
from diplosim.world import replace

# Debian's packages chromium and chromium-driver; elsewhere point these variables at your own
CHROMIUM = os.environ.get("DIPLOSIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DIPLOSIM_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def alaska() -> DashboardModel:
    return DashboardModel("alaska_2025", seed=1)


@contextlib.contextmanager
def stepped(model: DashboardModel, alliance):
    """The model with new alliance weights, as after a step (both step counters move on); restored afterwards."""
    world, steps = model.world, model.steps
    model.world = world.replace(dyads=replace(world.dyads, alliance=np.asarray(alliance, np.float32)), step=world.step + 1)
    model.steps = steps + 1
    try:
        yield model
    finally:
        model.world, model.steps = world, steps


def _edge_widths(fig) -> np.ndarray:
    (ax,) = fig.axes
    return np.sort(np.concatenate([c.get_linewidths() for c in ax.collections if isinstance(c, LineCollection)]))


# --- figures --------------------------------------------------------------------------------------


def test_alliance_figure_draws_the_current_weights_blocs_and_power(alaska):
    model = alaska
    d = model.world.dyads
    src, dst, alliance = np.asarray(d.src), np.asarray(d.dst), np.asarray(d.alliance)
    undirected = (src < dst) & (alliance >= MIN_ALLIANCE_DRAWN)
    fig = alliance_figure(model)
    np.testing.assert_allclose(_edge_widths(fig), np.sort(alliance_widths(alliance[undirected])), rtol=1e-5)
    (nodes,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    bloc = np.asarray(model.world.states.bloc)
    np.testing.assert_allclose(nodes.get_facecolors(), [BLOC_COLOURS(int(b)) for b in bloc], atol=1e-6)
    power = np.asarray(model.world.states.power)
    sizes = nodes.get_sizes()
    assert (np.diff(sizes[np.argsort(power)]) >= 0).all()  # bigger power, bigger node
    assert sizes.max() > 3 * sizes.min()

    touches_first = (src == 0) | (dst == 0)
    with stepped(model, np.where(touches_first, 0.9, 0.0)):  # a new step's weights are what the next drawing shows
        ties = int((touches_first & (src < dst)).sum())
        assert ties > 0
        np.testing.assert_allclose(_edge_widths(alliance_figure(model)), alliance_widths([0.9] * ties), rtol=1e-5)


def test_trade_figure_draws_one_arrow_per_export_flow(alaska):
    fig = trade_figure(alaska)
    trade = np.asarray(alaska.world.dyads.trade)
    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == min(int((trade > 0).sum()), MAX_TRADE_FLOWS) > 0
    widths = sorted(p.get_linewidth() for p in arrows)
    assert widths[-1] > 3 * widths[0]  # the largest flows stand out


def test_time_series_read_the_datacollector(alaska):
    alaska.datacollector.collect(alaska)  # a second row, as after a step
    rows = len(alaska.datacollector.get_model_vars_dataframe())
    cohesion = cohesion_figure(alaska).axes[0]
    assert [line.get_label() for line in cohesion.get_lines()] == list(alaska.scenario.blocs)
    relations = relations_figure(alaska).axes[0]
    assert len(relations.get_lines()) == len(alaska.scenario.watch)
    assert all(len(line.get_xdata()) == rows for line in relations.get_lines())
    approval, gdp = home_front_figure(alaska).axes
    (line,) = gdp.get_lines()
    np.testing.assert_allclose(line.get_ydata()[-1], float(np.asarray(alaska.world.states.gdp).sum()), rtol=1e-5)


def test_a_large_world_shows_its_most_powerful_states():
    model = DashboardModel("synthetic", seed=1)
    power = np.asarray(model.world.states.power)
    assert len(model.drawn) == MAX_DRAWN_STATES < len(power)
    assert power[model.drawn].min() >= np.sort(power)[-MAX_DRAWN_STATES]
    assert set(model.layout) == {model.scenario.states[i] for i in model.drawn}
    fig = trade_figure(model)
    assert f"{MAX_DRAWN_STATES} most powerful of {len(power)} states" in fig.axes[0].get_title()
    assert len([p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]) <= MAX_TRADE_FLOWS


def test_sliders_are_coefficients_inside_their_declared_ranges():
    fields = {f.name: f for f in dataclasses.fields(Params)}
    for slider in SLIDERS:
        lo, hi = fields[slider.name].metadata["range"]
        assert (lo is None or slider.lo >= lo) and (hi is None or slider.hi <= hi), slider
        assert slider.lo <= coefficient_default(slider.name) <= slider.hi, slider


# --- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "abc"], "--port: must be a whole number in [0, 65535], got 'abc'"),
        (["--port", "70000"], "--port: must be a whole number in [0, 65535] (0: any free port), got 70000"),
        (["--scenario", "atlantis"], "no scenario 'atlantis'; allowed: alaska_2025, synthetic, or the path"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_command_line_mistakes_are_one_line(argv, says, capsys):
    assert dashboard_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("diplosim dashboard: error: ") and says in err


def test_without_the_viz_extra_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(dashboard_cli, "VIZ_MODULES", ("diplosim_no_such_module",))
    assert dashboard_cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    # on a machine without the extra, solara-assets is listed missing too
    assert "needs the viz extra (diplosim_no_such_module" in err and "not installed): pip install 'diplosim[viz]'" in err


def test_a_port_in_use_is_one_line(capsys):
    if dashboard_cli.missing_viz():
        pytest.skip("the viz extra is not installed")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert dashboard_cli.main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--port {port}: cannot listen there" in err


def test_the_subcommand_is_registered():
    from diplosim.cli import SUBCOMMANDS

    assert SUBCOMMANDS["dashboard"] == "diplosim.dashboard_cli"


def test_the_user_guide_describes_every_flag_and_slider():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "user_guide.md").read_text(encoding="utf-8")
    heading = re.search(r"^## (\d+\. )?Open the dashboard$", guide, re.MULTILINE)
    assert heading, "docs/user_guide.md has no section 'Open the dashboard'"
    section = guide[heading.start():]
    flags = [a.option_strings[0] for a in dashboard_cli.parser()._actions if a.option_strings[0] != "-h"]
    for name in [*flags, *(f"`{slider.name}` | {slider.meaning} |" for slider in SLIDERS)]:
        assert name in section, f"docs/user_guide.md, 'Open the dashboard': {name!r} is not described"


# --- the page (needs the viz extra) ---------------------------------------------------------------


def test_the_page_renders_every_figure_and_redraws_after_a_step(alaska):
    dashboard = pytest.importorskip("diplosim.dashboard", reason="needs the viz extra")  # first: it quiets Mesa's hook warning
    import ipywidgets
    import solara
    from mesa.visualization.solara_viz import _check_model_params
    from mesa.visualization.utils import force_update

    params = dashboard.model_params("alaska_2025")
    _check_model_params(DashboardModel.__init__, params)  # what SolaraViz checks before Reset
    assert {s.name for s in SLIDERS} <= set(params) and params["scenario"]["values"] == ["alaska_2025", "synthetic"]

    _, page = solara.render(dashboard.Page(), handle_error=False)
    assert len(page.find(ipywidgets.Image).widgets) == 6

    _, view = solara.render(dashboard.FigureView(alaska, alliance_figure), handle_error=False)
    before = bytes(view.find(ipywidgets.Image).widget.value)
    with stepped(alaska, np.full(alaska.world.n_dyads, 0.8)):
        force_update()  # what SolaraViz does after Step
        assert bytes(view.find(ipywidgets.Image).widget.value) != before


# --- the served page, in headless Chromium ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_dashboard():
    """``diplosim dashboard`` on a free local port, as a subprocess; its URL; killed afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARA_")}  # the command's own settings
    server = subprocess.Popen(
        [sys.executable, "-m", "diplosim", "dashboard", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        url, said = None, []
        deadline = time.monotonic() + 240  # the first start compiles the model
        for line in server.stdout:
            said.append(line.rstrip())
            match = re.search(r"open (http://\S+) in a browser", line)
            if match:
                url = match.group(1)
                break
            if time.monotonic() > deadline:
                break
        assert url == f"http://127.0.0.1:{port}", f"the server did not start: {' | '.join(said[-3:])}"
        while True:  # the address is printed just before the server starts listening
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None and time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def browser():
    """Headless Chromium driven by Selenium; a one-line failure says what to install if either is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: apt-get install chromium chromium-driver "
                    "(or set DIPLOSIM_CHROMIUM and DIPLOSIM_CHROMEDRIVER)", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[viz,browser]' (or make test-browser)", pytrace=False)
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.browser
def test_the_dashboard_loads_offline_and_a_step_redraws_it(browser, served_dashboard):
    from selenium.webdriver.common.by import By

    url = served_dashboard
    browser.get(url)

    def figures() -> list[str]:
        return [img.get_attribute("src") for img in browser.find_elements(By.CSS_SELECTOR, "img[src^='blob:']")]

    first = _wait(lambda: len(figures()) >= 6 and figures(), 90, "the six figures")
    _wait(lambda: browser.find_elements(By.XPATH, "//*[text()='Step: 0']"), 10, "the step counter")

    step = _wait(lambda: [b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.strip().lower() == "step"],
                 10, "the Step button")[0]
    step.click()
    _wait(lambda: browser.find_elements(By.XPATH, "//*[text()='Step: 1']"), 60, "the step counter to reach 1")
    after = _wait(lambda: len(set(figures()) - set(first)) >= 6 and figures(), 60, "every figure to be redrawn")
    assert len(after) == 6

    # everything the page loaded came from this server, and every file was there
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus || 0])")
    hosts = {urlparse(name).hostname for name, _ in resources if urlparse(name).scheme in ("http", "https", "ws", "wss")}
    assert resources and hosts <= {"127.0.0.1", "localhost"}, hosts
    assert not [name for name, status in resources if status >= 400]
    # and the server does not fetch what solara-assets lacks from a CDN: a missing front-end file is a 404 at once
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/_solara/cdn/left-pad@1.3.0/index.js", timeout=10)
    assert missing.value.code == 404 and time.monotonic() - started < 5
