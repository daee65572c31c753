"""Trust: Beta-count beliefs about each partner's reliability, decaying toward a prior.

Reads and writes dyads' ``trust_alpha`` and ``trust_beta``.  Observations
(compliance, violations) are added where they happen (events, agreements);
here memory fades:
  alpha <- a0 + (1 - delta)(alpha - a0),  beta <- a0 + (1 - delta)(beta - a0)
"""

from __future__ import annotations

import jax

from diplosim.params import Params
from diplosim.world import World, replace


def trust(world: World, params: Params, key: jax.Array) -> World:
    """Decay Beta counts toward the prior ``trust_prior``."""
    del key  # deterministic
    d = world.dyads
    prior, keep = params.trust_prior, 1.0 - params.trust_decay
    return replace(
        world,
        dyads=replace(
            d,
            trust_alpha=prior + keep * (d.trust_alpha - prior),
            trust_beta=prior + keep * (d.trust_beta - prior),
        ),
    )
