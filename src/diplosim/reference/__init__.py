"""The reference engine: the model's rules as Mesa agents in plain Python, docked to the JAX core.

It is the executable specification of the model and the baseline the JAX
engine's speed is measured against (``benchmarks/engines.py``).  The rules
belong to the agents:

- ``State`` (state.py): a state; its per-state rules (economy, approval,
  settling its positions after talks, buying and selling oil) and what it
  gathers from its partners for its relations' rules.
- ``Relation`` (relation.py): state i's relation to state j, one per
  directed dyad i->j, owned by i (``state.relations``; ``relation.reverse``
  is j's relation to i); the per-dyad rules (i's decisions toward j,
  tension, conflict, alliance, trust, trade).
- ``Envoy`` (envoy.py): dispatch and talks; ``Agreement`` (agreements.py):
  an agreement slot, its compliance review and signing; ``Event``
  (events.py): the schedule, and the summits' talks.
- ``ReferenceModel`` (model.py): builds the agents from a ``World``; its
  ``step()`` runs the mechanisms in the core's process order (``PIPELINE``),
  each as a few phases ``agents.do("phase", ...)``, every phase followed by
  a commit, so all agents read the old values before any takes its new
  ones (synchronous update, ``SynchronousAgent`` in common.py).

To read what one state does in a step, read ``ReferenceModel``'s mechanism
methods in order: each names the agent methods it runs, and each agent
method's docstring gives its equations (the notation of docs/MODEL.md).

Randomness is the core's: each mechanism makes the same ``jax.random`` calls
with the same keys, and each agent reads its own entry, so from the same
world, parameters and key the two engines agree within float32 rounding:
``tests/test_docking.py`` checks every state, dyad, envoy and agreement
variable over 52 steps (``diplosim.reference.docking``).

    from diplosim.agents import DiplomacyModel
    model = DiplomacyModel("alaska_2025", seed=1, engine="reference")
    model.step()

or, with a ``World`` and no Mesa layer above it:

    model = ReferenceModel(world, params, key=jax.random.key(0))
    model.step()
    model.to_world()
"""

from diplosim.reference.agreements import Agreement
from diplosim.reference.envoy import Envoy
from diplosim.reference.events import Event
from diplosim.reference.model import PIPELINE, ReferenceModel
from diplosim.reference.relation import Relation
from diplosim.reference.state import State

__all__ = ["PIPELINE", "Agreement", "Envoy", "Event", "ReferenceModel", "Relation", "State"]
