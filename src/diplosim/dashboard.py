"""The interactive dashboard: Mesa's SolaraViz on the diplomacy model.

The alliance and trade networks, bloc cohesion, the watched relations, the oil price and
armed conflict, domestic approval and gdp, all redrawn after every step; sliders for the
scenario, the seed and a handful of dynamics coefficients (they take effect on Reset);
Step, play/pause and Reset from SolaraViz.  Each browser tab gets its own model.

Serve it with ``diplosim dashboard`` (offline, see ``diplosim.dashboard_cli``) or with
``solara run diplosim.dashboard --production``.
Needs the ``viz`` extra (``pip install 'diplosim[viz]'``).  The figures themselves are in
``diplosim.dashboard_views``.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable

import solara
from matplotlib.figure import Figure

with warnings.catch_warnings():  # Solara's hook check flags Mesa 3.3's own ComponentsView; nothing for our users to do
    warnings.filterwarnings("ignore", message=r".*ComponentsView.*use_state", category=UserWarning)
    from mesa.visualization import SolaraViz
    from mesa.visualization.utils import update_counter

from diplosim.dashboard_views import (
    DEFAULT_SCENARIO,
    DEFAULT_SEED,
    FIGURES,
    SCENARIO_ENV,
    SLIDERS,
    DashboardModel,
    coefficient_default,
    scenario_choices,
)

PLAY_INTERVAL_MS = 300


def model_params(scenario: str = DEFAULT_SCENARIO) -> dict[str, dict]:
    """SolaraViz's ``model_params``: the scenario, the seed and the coefficient sliders."""
    params = {
        "scenario": {"type": "Select", "label": "Scenario", "value": scenario, "values": scenario_choices(scenario)},
        "seed": {"type": "SliderInt", "label": "Seed", "value": DEFAULT_SEED, "min": 0, "max": 99, "step": 1},
    }
    for slider in SLIDERS:
        params[slider.name] = {"type": "SliderFloat", "label": slider.name, "value": coefficient_default(slider.name),
                               "min": slider.lo, "max": slider.hi, "step": slider.step}
    return params


@solara.component
def FigureView(model: DashboardModel, draw: Callable[[DashboardModel], Figure]):
    """``draw(model)`` as a PNG, drawn again after every step and on Reset."""
    update_counter.get()  # SolaraViz bumps it after a step: without reading it we would not redraw
    figure = solara.use_memo(lambda: draw(model), dependencies=[model, model.steps, draw])
    solara.FigureMatplotlib(figure, dependencies=[model, model.steps, draw], format="png")


# SolaraViz calls each with the model; all on its first page
COMPONENTS = [(functools.partial(FigureView, draw=draw), 0) for draw in FIGURES]


@solara.component
def Page():
    """The dashboard, on the scenario named by $DIPLOSIM_DASHBOARD_SCENARIO (default alaska_2025)."""
    scenario = os.environ.get(SCENARIO_ENV, DEFAULT_SCENARIO)
    model = solara.use_memo(lambda: DashboardModel(scenario), dependencies=[scenario])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(scenario), name="diplosim",
              play_interval=PLAY_INTERVAL_MS)


__all__ = ["Page", "FigureView", "COMPONENTS", "model_params"]
