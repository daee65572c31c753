"""diplosim: agent-based simulation of international diplomacy, with a JAX core.

Main entry points: ``diplosim.engine`` (step, simulate, simulate_batch),
``diplosim.scenario`` (load_scenario, synthetic_scenario), ``diplosim.app``
(run: scenario to Parquet tables) and the ``diplosim`` command.
"""

__version__ = "0.1.0"
