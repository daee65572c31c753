"""Trust, per dyad: Beta counts decay toward the prior (reference of ``mechanisms.trust``).

  alpha <- a0 + (1 - delta)(alpha - a0),  beta <- a0 + (1 - delta)(beta - a0)
"""

from __future__ import annotations

from diplosim.params import Params
from diplosim.reference.common import floats
from diplosim.world import World, replace


def trust(world: World, params: Params, key=None) -> World:
    """Each dyad's memory of compliance and violations fades toward the prior ``trust_prior``."""
    d = world.dyads
    prior, keep = params.trust_prior, 1.0 - params.trust_decay
    alpha = [prior + keep * (a - prior) for a in d.trust_alpha.tolist()]
    beta = [prior + keep * (b - prior) for b in d.trust_beta.tolist()]
    return replace(world, dyads=replace(d, trust_alpha=floats(alpha), trust_beta=floats(beta)))
