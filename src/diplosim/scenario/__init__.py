"""Scenarios: from a YAML file or a generator to a ``World`` with names.

>>> scenario = load_scenario({"kind": "synthetic", "n_states": 100})
>>> scenario.world.n_states, scenario.states[0]
(100, 'S0000000')

``load_scenario`` reads the Hydra ``scenario`` group (a ``kind: file``
scenario, see docs/scenarios.md, or ``kind: synthetic``); ``build_world``
turns a validated ``ScenarioSpec`` into a ``Scenario``;
``synthetic_scenario`` generates a scale-free world of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

from diplosim.world import World


class ScenarioError(ValueError):
    """A mistake in a scenario, as one line: the file, the field, what is allowed."""


@dataclass(frozen=True)
class Scenario:
    """A world with the names of its rows.

    The tuples give the names in the index order of the world's arrays:
    ``states[i]`` is row i of ``world.states``, ``events[v]`` row v of
    ``world.events``, ``watch[w]`` the dyad ``world.watch[w]``.
    """

    name: str
    world: World
    states: tuple[str, ...]  # N
    blocs: tuple[str, ...]  # B
    issues: tuple[str, ...]  # K
    envoys: tuple[str, ...]  # M
    events: tuple[str, ...]  # V; "e<v>_<kind>" where the file gives none
    watch: tuple[str, ...]  # W
    source: str  # the file read, "config:<name>", or "synthetic"
    description: str


# imported after Scenario and ScenarioError, which the submodules use
from diplosim.scenario.build import build_world  # noqa: E402
from diplosim.scenario.load import load_scenario, load_scenario_file  # noqa: E402
from diplosim.scenario.synthetic import synthetic_scenario  # noqa: E402

__all__ = [
    "Scenario",
    "ScenarioError",
    "build_world",
    "load_scenario",
    "load_scenario_file",
    "synthetic_scenario",
]
