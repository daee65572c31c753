"""What the dashboard shows, as plain matplotlib figures of a ``DiplomacyModel`` (no Solara needed).

``DashboardModel`` is the model the dashboard runs: a ``DiplomacyModel`` whose keyword
signature Mesa's SolaraViz accepts, with a drawing layout fixed when it is built (the
states do not jump about between steps).  The figure functions read the model's current
arrays, its networkx graphs (``model.network``) and its ``DataCollector``; each call draws
the model as it is now.  ``diplosim.dashboard`` puts them on a page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from diplosim.agents import CONF, DiplomacyModel, StateAgent
from diplosim.params import Params

SCENARIO_ENV = "DIPLOSIM_DASHBOARD_SCENARIO"  # the scenario the page opens with (the command line sets it)
DEFAULT_SCENARIO = "alaska_2025"
DEFAULT_SEED = 1
MAX_DRAWN_STATES = 80  # larger worlds show their most powerful states only
MIN_ALLIANCE_DRAWN = 0.02  # weaker alliance ties are not drawn
MAX_TRADE_FLOWS = 150  # only the largest export flows are drawn (arrows are slow to draw)
BLOC_COLOURS = matplotlib.colormaps["tab10"]


@dataclass(frozen=True)
class Slider:
    """A dynamics coefficient the page offers as a slider (a field of ``diplosim.params.Params``);
    the page labels it with its name, ``meaning`` is for the docs."""

    name: str
    meaning: str
    lo: float
    hi: float
    step: float


# The coefficients behind the counterfactuals analysts ask about (DESIGN.md §1); their meaning,
# unit and declared range are in diplosim.params and docs/MODEL.md.
SLIDERS = (
    Slider("secondary_diversion", "share of oil purchases secondary sanctions divert", 0.0, 1.0, 0.05),
    Slider("sanction_trade_damping", "share of trade a full sanction removes", 0.0, 1.0, 0.05),
    Slider("exclusion_alliance", "alliance an ally left out of talks loses", 0.0, 0.5, 0.01),
    Slider("proxy_speed", "speed of talks through a proxy envoy", 0.0, 1.0, 0.05),
    Slider("violation_rate", "weekly chance an unreliable party breaks a deal", 0.0, 0.5, 0.01),
    Slider("conflict_threshold", "tension above which conflict escalates", 0.0, 1.0, 0.05),
)


def coefficient_default(name: str) -> float:
    """The default of the dynamics coefficient ``name`` (a field of ``Params``)."""
    return float(next(f.default for f in dataclasses.fields(Params) if f.name == name))


def scenario_names() -> list[str]:
    """The scenarios in conf/scenario, by name."""
    return sorted(path.stem for path in CONF.glob("*.yaml"))


def scenario_choices(current: str) -> list[str]:
    """The scenarios the page offers: those in conf/scenario, and ``current`` (a name or a path)."""
    names = scenario_names()
    return names if current in names else [current, *names]


class DashboardModel(DiplomacyModel):
    """``DiplomacyModel`` for the dashboard.

    SolaraViz rebuilds the model on Reset as ``DashboardModel(**slider values)`` and checks
    the names against this signature, which is why it takes ``**kwargs`` (any field of
    ``Params``, as for ``DiplomacyModel``).  ``drawn`` (i32[D]) are the states drawn (all,
    or the ``MAX_DRAWN_STATES`` most powerful at the start), ``layout`` their positions.
    """

    def __init__(self, scenario: str | Path = DEFAULT_SCENARIO, *, seed: int | None = DEFAULT_SEED, rng=None, **kwargs):
        super().__init__(scenario, seed=seed, rng=rng, **kwargs)
        states = self.world.states
        power = np.asarray(states.power)
        self.drawn = np.sort(np.argsort(-power, kind="stable")[:MAX_DRAWN_STATES])
        names = [self.scenario.states[i] for i in self.drawn]
        alliances = self.network("alliance").subgraph(names)
        self.layout = nx.spring_layout(alliances, weight="weight", seed=0)
        # fixed scales, so that shrinking trade or power shows as thinner lines and smaller nodes
        self.scale = {
            "power": float(power[self.drawn].max()) or 1.0,
            "gdp": float(np.asarray(states.gdp)[self.drawn].max()) or 1.0,
            "trade": float(np.asarray(self.world.dyads.trade).max()) or 1.0,
        }


def _node_colours(model: DashboardModel) -> list:
    bloc = np.asarray(model.world.states.bloc)
    return [BLOC_COLOURS(int(bloc[i]) % BLOC_COLOURS.N) for i in model.drawn]


def _node_sizes(model: DashboardModel, field: str) -> np.ndarray:
    """Marker areas (pt^2) proportional to ``field`` relative to its value at the start."""
    values = np.asarray(getattr(model.world.states, field))[model.drawn]
    return 60.0 + 1200.0 * np.clip(values / model.scale[field], 0.0, 2.0)


def alliance_widths(weights) -> np.ndarray:
    """Line widths (pt) of alliance ties of weight in [0, 1]."""
    return 0.5 + 5.5 * np.asarray(weights, float)


def trade_widths(exports, scale: float) -> np.ndarray:
    """Line widths (pt) of export flows, relative to the largest flow at the start."""
    return 0.3 + 4.7 * np.sqrt(np.clip(np.asarray(exports, float) / scale, 0.0, 4.0))


def _network_axes(model: DashboardModel, title: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    n = len(model.scenario.states)
    shown = "" if len(model.drawn) == n else f" ({len(model.drawn)} most powerful of {n} states)"
    ax.set_title(f"{title}, week {model.steps}{shown}", fontsize=10)
    ax.set_axis_off()
    return fig, ax


def _draw_states(model: DashboardModel, ax, size_by: str) -> None:
    names = [model.scenario.states[i] for i in model.drawn]
    graph = nx.Graph()
    graph.add_nodes_from(names)
    nx.draw_networkx_nodes(graph, model.layout, nodelist=names, node_color=_node_colours(model),
                           node_size=_node_sizes(model, size_by), edgecolors="white", linewidths=0.8, ax=ax)
    if len(names) <= 30:
        nx.draw_networkx_labels(graph, model.layout, font_size=7, ax=ax)
    blocs = sorted({int(b) for b in np.asarray(model.world.states.bloc)[model.drawn]})
    handles = [Line2D([], [], marker="o", linestyle="", color=BLOC_COLOURS(b % BLOC_COLOURS.N), label=model.scenario.blocs[b])
               for b in blocs]
    ax.legend(handles=handles, loc="lower left", fontsize=7, title=f"bloc (size: {size_by})", title_fontsize=7, frameon=False)


def alliance_figure(model: DashboardModel) -> Figure:
    """The alliance network now: line width and darkness grow with the alliance weight,
    nodes are coloured by bloc and sized by power."""
    fig, ax = _network_axes(model, "Alliances")
    graph = model.network("alliance").subgraph(model.scenario.states[i] for i in model.drawn)
    ties = [(u, v, w) for u, v, w in graph.edges(data="weight") if w >= MIN_ALLIANCE_DRAWN]
    if ties:
        weights = np.array([w for _, _, w in ties])
        nx.draw_networkx_edges(graph, model.layout, edgelist=[(u, v) for u, v, _ in ties], width=alliance_widths(weights),
                               edge_color=weights, edge_cmap=matplotlib.colormaps["Greys"], edge_vmin=-0.3, edge_vmax=1.0, ax=ax)
    _draw_states(model, ax, "power")
    return fig


def trade_figure(model: DashboardModel) -> Figure:
    """The trade network now: arrows from exporter to importer, width growing with exports
    (the ``MAX_TRADE_FLOWS`` largest); nodes coloured by bloc and sized by gdp."""
    fig, ax = _network_axes(model, "Trade (exports)")
    graph = model.network("trade").subgraph(model.scenario.states[i] for i in model.drawn)
    flows = sorted(((u, v, w) for u, v, w in graph.edges(data="weight") if w > 0.0), key=lambda f: -f[2])[:MAX_TRADE_FLOWS]
    if flows:
        bloc = dict(zip(model.scenario.states, np.asarray(model.world.states.bloc).tolist(), strict=True))
        nx.draw_networkx_edges(graph, model.layout, edgelist=[(u, v) for u, v, _ in flows],
                               width=trade_widths([w for _, _, w in flows], model.scale["trade"]),
                               edge_color=[BLOC_COLOURS(bloc[u] % BLOC_COLOURS.N) for u, _, _ in flows], alpha=0.55,
                               arrows=True, arrowsize=8, connectionstyle="arc3,rad=0.12", node_size=300, ax=ax)
    _draw_states(model, ax, "gdp")
    return fig


def _series_axes(title: str, ylabel: str, ax) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel("week", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole weeks
    ax.grid(alpha=0.3)


def _lines(model: DiplomacyModel, ax, columns: list[str], label) -> None:
    table = model.datacollector.get_model_vars_dataframe()
    marker = "o" if len(table) < 20 else None  # a line of one point is invisible
    for column in columns:
        ax.plot(table.index, table[column], label=label(column), marker=marker, markersize=3)
    if len(columns) > 1:
        ax.legend(fontsize=7)


def cohesion_figure(model: DiplomacyModel) -> Figure:
    """Bloc cohesion over time (the DataCollector's ``cohesion_<bloc>`` columns)."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    columns = [c for c in model.datacollector.model_reporters if c.startswith("cohesion_")]
    _lines(model, ax, columns, lambda c: c.removeprefix("cohesion_"))
    _series_axes("Bloc cohesion", "mean alliance inside the bloc", ax)
    return fig


def relations_figure(model: DiplomacyModel) -> Figure:
    """The watched relations over time (the DataCollector's ``<pair>_relation`` columns)."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    columns = [c for c in model.datacollector.model_reporters if c.endswith("_relation")]
    _lines(model, ax, columns, lambda c: c.removesuffix("_relation").replace("_", " \u2192 "))
    _series_axes("Watched relations", "trust - tension", ax)
    return fig


def energy_conflict_figure(model: DiplomacyModel) -> Figure:
    """The oil price and the total armed-conflict intensity over time."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    price, conflict = fig.subplots(1, 2)
    _lines(model, price, ["energy_price"], str)
    _series_axes("Oil price", "USD/bbl", price)
    _lines(model, conflict, ["conflict_total"], str)
    _series_axes("Armed conflict", "sum of intensities", conflict)
    return fig


def home_front_figure(model: DiplomacyModel) -> Figure:
    """Mean domestic approval and total gdp over time (the DataCollector's state reporters)."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    approval, gdp = fig.subplots(1, 2)
    by_step = model.datacollector.get_agenttype_vars_dataframe(StateAgent).groupby(level="Step")
    marker = "o" if by_step.ngroups < 20 else None
    approval.plot(by_step["approval"].mean(), marker=marker, markersize=3)
    _series_axes("Domestic approval", "mean over states", approval)
    gdp.plot(by_step["gdp"].sum(), marker=marker, markersize=3)
    _series_axes("Economy", "total gdp, USD bn/yr", gdp)
    return fig


FIGURES = (alliance_figure, trade_figure, cohesion_figure, relations_figure, energy_conflict_figure, home_front_figure)

__all__ = ["DashboardModel", "SLIDERS", "FIGURES", "alliance_figure", "trade_figure", "cohesion_figure",
           "relations_figure", "energy_conflict_figure", "home_front_figure", "scenario_names", "coefficient_default"]
