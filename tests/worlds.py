"""A tiny hand-built world whose numbers can be checked by hand."""

from __future__ import annotations

import dataclasses
import itertools

import jax.numpy as jnp
import numpy as np

from diplosim.params import Mechanisms
from diplosim.world import Agreements, Dyads, Envoys, Events, States, World

F, I = jnp.float32, jnp.int32  # noqa: E741
# every mechanism off but the scheduled events: a small program that compiles in seconds, for the engine's plumbing
EVENTS_ONLY = Mechanisms(**{f.name: f.name == "events" for f in dataclasses.fields(Mechanisms)})


def tiny_world(n_agreements: int = 4) -> World:
    """Three states (0: A, 1: B in bloc 0; 2: C in bloc 1), all six dyads, one summit, one sanction.

    Dyads sorted by (dst, src): 1->0, 2->0, 0->1, 2->1, 0->2, 1->2.
    """
    pairs = sorted(itertools.permutations(range(3), 2), key=lambda p: (p[1], p[0]))
    src = np.array([p[0] for p in pairs])
    dst = np.array([p[1] for p in pairs])
    index = {p: e for e, p in enumerate(pairs)}
    reverse = np.array([index[(j, i)] for i, j in pairs])
    e = len(pairs)
    alliance = np.array([0.8 if {i, j} == {0, 1} else 0.1 for i, j in pairs])
    states = States(
        power=jnp.array([100.0, 50.0, 80.0], F),
        gdp=jnp.array([1000.0, 500.0, 800.0], F),
        military_share=jnp.array([0.1, 0.1, 0.1], F),
        approval=jnp.array([0.5, 0.6, 0.7], F),
        approval_baseline=jnp.array([0.5, 0.6, 0.7], F),
        reliability=jnp.array([0.9, 0.8, 0.4], F),
        position=jnp.array([[0.2, 0.5], [0.3, 0.5], [0.9, 0.5]], F),
        salience=jnp.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]], F),
        energy_supply=jnp.array([0.0, 0.0, 2.1], F),
        energy_demand=jnp.array([1.0, 1.0, 0.0], F),
        energy_bought=jnp.array([1.0, 1.0, 0.0], F),
        energy_sold=jnp.array([0.0, 0.0, 2.1], F),
        growth=jnp.zeros(3, F),
        conflict_baseline=jnp.zeros(3, F),
        bloc=jnp.array([0, 0, 1], I),
        trade_baseline=jnp.array([40.0, 40.0, 40.0], F),
    )
    dyads = Dyads(
        src=jnp.asarray(src, I),
        dst=jnp.asarray(dst, I),
        reverse=jnp.asarray(reverse, I),
        alliance=jnp.asarray(alliance, F),
        trade_potential=jnp.full(e, 10.0, F),
        trade=jnp.full(e, 10.0, F),
        energy_flow=jnp.zeros(e, F),
        tension=jnp.full(e, 0.2, F),
        trust_alpha=jnp.full(e, 2.0, F),
        trust_beta=jnp.full(e, 2.0, F),
        sanction=jnp.zeros(e, F),
        secondary_sanction=jnp.zeros(e, F),
        conflict=jnp.zeros(e, F),
        channel=jnp.ones(e, F),
    )
    envoys = Envoys(
        principal=jnp.array([0], I),
        counterpart=jnp.array([2], I),
        dyad=jnp.array([index[(0, 2)]], I),
        channel=jnp.array([1], I),
        credibility=jnp.array([0.5], F),
        active=jnp.array([True]),
    )
    zeros_a = jnp.zeros(n_agreements, I)
    agreements = Agreements(
        party_a=zeros_a, party_b=zeros_a, kind=zeros_a, issue=zeros_a,
        terms=jnp.zeros(n_agreements, F), verification=jnp.zeros(n_agreements, F),
        channel=zeros_a, status=zeros_a, age=zeros_a,
    )
    # event 0: summit at step 1 between A and C on issue 0, B excluded; event 1: A sanctions C at step 0
    events = Events(
        step=jnp.array([1, 0], I),
        kind=jnp.array([0, 1], I),
        actor=jnp.array([0, 0], I),
        target=jnp.array([2, 2], I),
        dyad=jnp.array([index[(0, 2)], index[(0, 2)]], I),
        issue=jnp.array([0, 0], I),
        magnitude=jnp.array([1.0, 0.8], F),
        member_event=jnp.array([0, 0, 0], I),
        member_state=jnp.array([0, 2, 1], I),
        member_role=jnp.array([0, 0, 1], I),
    )
    return World(
        states=states, envoys=envoys, dyads=dyads, agreements=agreements, events=events,
        watch=jnp.array([index[(0, 2)]], I), issue_agreement=jnp.array([0, 2], I),
        energy_dyads=jnp.array([index[(2, 0)], index[(2, 1)]], I), energy_price=jnp.asarray(70.0, F),
        step=jnp.asarray(0, I), n_blocs=2,
    )


TINY_INDEX = {p: e for e, p in enumerate(sorted(itertools.permutations(range(3), 2), key=lambda p: (p[1], p[0])))}


def with_agreement(world: World, party_a: int, party_b: int, kind: str, *, channel: str = "official",
                   verification: float = 1.0, age: int = 0, slot: int = 0, issue: int = 0, terms: float = 0.5) -> World:
    """The world with an agreement in force in ``slot``."""
    from diplosim.world import AGREEMENT_KINDS, AGREEMENT_STATUS, CHANNELS, replace

    a = world.agreements
    agreements = replace(
        a,
        party_a=a.party_a.at[slot].set(party_a), party_b=a.party_b.at[slot].set(party_b),
        kind=a.kind.at[slot].set(AGREEMENT_KINDS.index(kind)), issue=a.issue.at[slot].set(issue),
        terms=a.terms.at[slot].set(terms), verification=a.verification.at[slot].set(verification),
        channel=a.channel.at[slot].set(CHANNELS.index(channel)),
        status=a.status.at[slot].set(AGREEMENT_STATUS.index("in_force")), age=a.age.at[slot].set(age),
    )
    return world.replace(agreements=agreements)
