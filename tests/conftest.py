"""Shared fixtures."""

from __future__ import annotations

import pytest

from diplosim import programs
from diplosim.world import World
from worlds import tiny_world


@pytest.fixture
def world() -> World:
    """Three states, six dyads, one summit and one sanction (see worlds.tiny_world)."""
    return tiny_world()


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """The suite compiles hundreds of programs in one process: each holds memory maps until
    released, and past vm.max_map_count XLA segfaults (see diplosim.programs.release_when_crowded)."""
    yield
    programs.release_when_crowded()
