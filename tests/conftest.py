"""Shared fixtures."""

from __future__ import annotations

import pytest

from diplosim.world import World
from worlds import tiny_world


@pytest.fixture
def world() -> World:
    """Three states, six dyads, one summit and one sanction (see worlds.tiny_world)."""
    return tiny_world()
