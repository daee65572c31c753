"""The reference engine: the model's rules as readable per-agent Python, docked to the JAX core.

Each module mirrors one module of ``diplosim.mechanisms``: the same equations
(given in each docstring), written as loops over states, dyads, envoys and
agreement slots with plain Python floats, no array programming.  It is the
executable specification of the model and the baseline the JAX engine's
speed is measured against (``benchmarks/engines.py``).

It consumes the core's random draws (the same ``jax.random`` calls with the
same keys), so from the same world, parameters and key the two engines agree
within float32 rounding: ``tests/test_docking.py`` checks every state, dyad,
envoy and agreement variable over 50+ steps (``diplosim.reference.docking``).

    from diplosim.agents import DiplomacyModel
    model = DiplomacyModel("alaska_2025", seed=1, engine="reference")
    model.step()

or, without Mesa, ``diplosim.reference.step(world, params, key)`` in place of
``diplosim.engine.step``.
"""

from diplosim.reference.engine import PIPELINE, step
from diplosim.reference.metrics import metrics

__all__ = ["PIPELINE", "metrics", "step"]
