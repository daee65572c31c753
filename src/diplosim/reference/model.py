"""``ReferenceModel``: the model's rules as Mesa agents, stepped phase by phase in the core's process order.

The agents are the world's states (``State``), their relations to each other
(``Relation``, one per directed dyad i->j, owned by state i), the envoys
(``Envoy``) and the agreement slots (``Agreement``); the scenario's schedule
is a list of ``Event`` records.  ``step()`` runs the mechanisms in the order
of ``diplosim.engine._pipeline`` (``PIPELINE``); each mechanism is a few
phases, and each phase is

    self.relations.do("feel_tension", incidents)    # every agent computes its new values from the current world
    self.relations.do("commit")                     # then all of them take their new values at once

so the update is synchronous, as in the core (see ``SynchronousAgent``).
Agents run in the world's order (state i, dyad e, ...), never shuffled.  The
random draws are the core's: each mechanism draws with
``jax.random.fold_in(key, KEY_STREAM[name])`` exactly the arrays the core
draws, and each agent reads its own entry.

    model = ReferenceModel(world, params, seed=1)    # or key=jax.random.key(0)
    model.step()
    model.to_world()                                 # a World of numpy arrays, as the core returns
"""

from __future__ import annotations

import dataclasses
import math

import jax
import mesa
import numpy as np
from mesa.agent import AgentSet

from diplosim.engine import KEY_STREAM
from diplosim.mechanisms.decisions import MAX_CEASEFIRES_PER_STEP, Actions
from diplosim.mechanisms.trade import MARKET_ROUNDS, PRICE_CAP
from diplosim.params import Mechanisms, Params
from diplosim.reference.agreements import CEASEFIRE, Agreement, Candidate, sign
from diplosim.reference.common import draw, float32, host, plain_params
from diplosim.reference.envoy import Envoy
from diplosim.reference.events import Event
from diplosim.reference.metrics import metrics
from diplosim.reference.relation import Relation
from diplosim.reference.state import TINY, State
from diplosim.world import AGREEMENT_KINDS, EVENT_KINDS, EVENT_ROLES, World, replace

# The core's process order (diplosim.engine._pipeline): mechanism switch -> the model's method running it.
PIPELINE = (
    ("events", "apply_scheduled_events"),
    ("decisions", "take_decisions"),
    ("negotiation", "negotiate"),
    ("agreements", "review_agreements"),
    ("trade", "trade_and_clear_oil"),
    ("economy", "grow_economies"),
    ("tension", "update_tension_and_conflict"),
    ("alliances", "update_alliances"),
    ("trust", "fade_trust"),
    ("approval", "update_approval"),
)
PARTICIPANT = EVENT_ROLES.index("participant")


def _rows(record) -> list[dict]:
    """One dict per row of a world record (States, Dyads, ...): field name -> Python value."""
    columns = {f.name: getattr(record, f.name).tolist() for f in dataclasses.fields(record)}
    length = len(next(iter(columns.values()), []))
    return [{name: column[row] for name, column in columns.items()} for row in range(length)]


def _column(values: list, like: np.ndarray) -> np.ndarray:
    """Agents' values as the world array ``like`` holds them (its dtype and shape)."""
    return np.asarray(values, dtype=like.dtype).reshape(like.shape)


class ReferenceModel(mesa.Model):
    """The diplomacy model as Mesa agents (the reference engine), built from a ``World``.

    ``params``: the coefficients (a ``Params``); ``key``: the run's JAX key
    (step t draws from ``fold_in(key, t)``, as the core), drawn from the
    model's ``seed``/``rng`` when not given; ``mechanisms``: which mechanisms
    run.  ``step(overrides)``: one week; ``overrides`` = (values, mask), two
    ``Actions``, replace some states' default decisions (the Mesa layer's
    ``decide()`` hooks).  ``metrics``: the metrics after the last step.
    """

    def __init__(self, world: World, params: Params, key: jax.Array | None = None, mechanisms: Mechanisms = Mechanisms(),
                 *, seed: int | None = None, rng=None):
        super().__init__(seed=seed) if rng is None else super().__init__(rng=rng)
        world = host(world)
        self.template = world  # the world the model was built from: its schedule and fixed indices
        self.params = plain_params(params)
        self.mechanisms = mechanisms
        self.key = jax.random.key(int(self.rng.integers(2**31 - 1))) if key is None else key
        self.week = int(world.step)  # steps taken so far (world.step)
        self.n_blocs = world.n_blocs
        self.energy_price = float(world.energy_price)  # world oil price, USD/bbl
        self.issue_agreement = world.issue_agreement.tolist()  # the agreement kind a deal on each issue makes (-1: none)

        states = [State(self, i, row) for i, row in enumerate(_rows(world.states))]
        d = world.dyads
        relations = [Relation(self, e, states[i], states[j], row)
                     for e, (i, j, row) in enumerate(zip(d.src.tolist(), d.dst.tolist(), _rows(d), strict=True))]
        for relation, back in zip(relations, d.reverse.tolist(), strict=True):
            relation.reverse = relations[back]
            relation.source.relations.append(relation)
            relation.source.relation_to[relation.target] = relation
            relation.target.incoming.append(relation)
        self.oil_routes = [relations[e] for e in world.energy_dyads.tolist()]  # ascending: in dyad order
        for route in self.oil_routes:
            route.oil_route = True
            route.source.oil_exports.append(route)
            route.target.oil_imports.append(route)
        m = world.envoys
        envoys = [Envoy(self, k, states[row["principal"]], states[row["counterpart"]], relations[row["dyad"]],
                        row["channel"], row["credibility"], row["active"]) for k, row in enumerate(_rows(m))]
        agreements = [Agreement(self, x, states[row.pop("party_a")], states[row.pop("party_b")], **row)
                      for x, row in enumerate(_rows(world.agreements))]
        self.schedule = self._schedule(world, states, relations)
        self.watched = [relations[e] for e in world.watch.tolist()]
        # agent sets in the world's order: every phase runs over them in this order
        self.states = AgentSet(states, random=self.random)
        self.relations = AgentSet(relations, random=self.random)
        self.envoys = AgentSet(envoys, random=self.random)
        self.agreements = AgentSet(agreements, random=self.random)
        self.metrics = metrics(self)

    @staticmethod
    def _schedule(world: World, states: list[State], relations: list[Relation]) -> list[Event]:
        """The scenario's events; each shock is also listed on its dyad and the reverse (``Relation.scheduled``)."""
        ev = world.events
        members = {v: ([], []) for v in range(len(ev.step))}  # event -> (participants, excluded)
        for v, i, role in zip(ev.member_event.tolist(), ev.member_state.tolist(), ev.member_role.tolist(), strict=True):
            members[v][0 if role == PARTICIPANT else 1].append(states[i])
        columns = (ev.step, ev.kind, ev.actor, ev.target, ev.dyad, ev.issue, ev.magnitude)
        schedule = []
        for v, (step, kind, actor, target, dyad, issue, magnitude) in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
            event = Event(v, step, EVENT_KINDS[kind], states[actor], states[target], issue, magnitude, *members[v])
            if event.kind != "summit":
                relations[dyad].scheduled.append((event, True))
                relations[dyad].reverse.scheduled.append((event, False))
            schedule.append(event)
        return schedule

    # --- the step -------------------------------------------------------------------------------

    def step(self, overrides: tuple[Actions, Actions] | None = None) -> None:
        """One week, with the run's key for this week: ``fold_in(key, week)``."""
        self.advance(jax.random.fold_in(self.key, self.week), overrides)

    def advance(self, key: jax.Array, overrides: tuple[Actions, Actions] | None = None) -> None:
        """One week with the step key ``key`` (as ``diplosim.engine.step``): every mechanism switched on, in order."""
        before = [agreement.status for agreement in self.agreements]
        for name, _ in PIPELINE:
            if getattr(self.mechanisms, name):
                self.run_mechanism(name, jax.random.fold_in(key, KEY_STREAM[name]), overrides)
        self.week += 1
        self.metrics = metrics(self, before)

    def run_mechanism(self, name: str, key: jax.Array, overrides: tuple[Actions, Actions] | None = None) -> None:
        """One mechanism (a switch name of ``Mechanisms``) with its own key, ``fold_in(step key, KEY_STREAM[name])``."""
        mechanism = getattr(self, dict(PIPELINE)[name])
        mechanism(key, overrides) if name == "decisions" else mechanism(key)

    def commit(self, *agent_sets: AgentSet) -> None:
        """Every agent of ``agent_sets`` takes the new values of the phase just run."""
        for agents in agent_sets:
            agents.do("commit")

    # --- what the world's agreements say ----------------------------------------------------------

    def parties_to(self, kind: str) -> set[State]:
        """The states party to an agreement of ``kind`` in force."""
        code = AGREEMENT_KINDS.index(kind)
        return {party for a in self.agreements if a.in_force and a.kind == code for party in (a.party_a, a.party_b)}

    def covered_by(self, kind: str) -> set[Relation]:
        """The relations (both directions of a pair) an agreement of ``kind`` in force binds."""
        code = AGREEMENT_KINDS.index(kind)
        return {relation for a in self.agreements if a.in_force and a.kind == code for relation in a.relations()}

    # --- the mechanisms, in process order -----------------------------------------------------------

    def apply_scheduled_events(self, key: jax.Array) -> None:
        """Events: each relation takes the shocks scheduled on it this week (summits are negotiation's)."""
        self.relations.do("react_to_events", self.week)
        self.commit(self.relations)

    def take_decisions(self, key: jax.Array, overrides: tuple[Actions, Actions] | None = None) -> None:
        """Decisions: each state's rules toward each partner (or its ``decide()`` orders), its envoys, mutual ceasefires.

        Draws one uniform per dyad, ``jax.random.uniform(key, [E])`` (the signals).
        """
        signal_draws = draw(jax.random.uniform, key, (len(self.relations),))
        orders = None if overrides is None else tuple(
            Actions(**{f.name: np.asarray(getattr(o, f.name)).tolist() for f in dataclasses.fields(Actions)})
            for o in overrides)
        self.relations.do("choose_actions", signal_draws, self.covered_by("sanctions_relief"),
                          self.parties_to("ceasefire"), orders)
        self.envoys.do("consider_dispatch", orders)
        self.relations.do("carry_out_actions")
        self.commit(self.relations, self.envoys)
        sign(self.agreements, self.mutual_ceasefires())

    def mutual_ceasefires(self) -> list[Candidate]:
        """Pairs that offered each other a ceasefire this step, as deals: the first MAX_CEASEFIRES_PER_STEP by dyad.

        Each pair once (i < j), on the issue ceasefires settle (the first
        issue whose deals are ceasefires; issue 0 if none), terms the mean
        of the two positions, official verification.
        """
        issue = self.issue_agreement.index(CEASEFIRE) if CEASEFIRE in self.issue_agreement else 0
        deals = []
        for relation in self.relations:
            i, j = relation.source, relation.target
            if relation.offers_ceasefire and relation.reverse.offers_ceasefire and i.index < j.index:
                terms = 0.5 * (i.position[issue] + j.position[issue])
                deals.append(Candidate(i, j, CEASEFIRE, issue, terms, self.params.verification_official, 0))
                if len(deals) == MAX_CEASEFIRES_PER_STEP:
                    break
        return deals

    def negotiate(self, key: jax.Array) -> None:
        """Negotiation: summits firing this week, then envoys; the principals sign what they agree; approval follows.

        The stakeholders a summit excludes resent it; its participants
        bargain and settle their positions; then each active envoy's pair
        bargains from there.  Deals: summits first (schedule order), then
        envoys (envoy order).
        """
        summits = [event for event in self.schedule if event.kind == "summit" and event.step == self.week]
        self.relations.do("resent_exclusions", summits)
        for summit in summits:
            summit.convene(self.params)
        self.states.do("settle_positions")
        self.commit(self.states)
        deals = [summit.deal(self.params, self.issue_agreement) for summit in summits]
        self.envoys.do("talk")
        self.states.do("settle_positions")
        self.commit(self.states)
        deals += [envoy.deal(self.params, self.issue_agreement) for envoy in self.envoys]
        deals = [deal for deal in deals if deal is not None]
        signed = sign(self.agreements, deals)
        self.states.do("weigh_deals", [deal for deal, ok in zip(deals, signed, strict=True) if ok])
        self.commit(self.states, self.relations)

    def review_agreements(self, key: jax.Array) -> None:
        """Agreements: each slot in force is kept, broken or caught broken; the parties' relations bear the consequences.

        Draws four uniforms per slot, from ``jax.random.split(key, 4)``.
        """
        slots = (len(self.agreements),)
        draws = [draw(jax.random.uniform, k, slots) for k in jax.random.split(key, 4)]
        self.agreements.do("review", *draws)
        breakers = {state for agreement in self.agreements for state in agreement.ceasefire_breakers()}
        self.relations.do("hear_agreement_news", breakers)
        self.commit(self.agreements, self.relations)

    def trade_and_clear_oil(self, key: jax.Array) -> None:
        """Trade and energy: trade relaxes toward its frictional target; the oil market clears; the price follows.

        The market clears in MARKET_ROUNDS rounds, each in three phases
        (``State.take_stock``, ``place_orders``, ``fill_orders``).
        """
        self.states.do("assess_exposure")
        self.relations.do("relax_trade")
        for _ in range(MARKET_ROUNDS):
            self.states.do("take_stock")
            self.states.do("place_orders")
            self.states.do("fill_orders")
        self.relations.do("ship_oil")
        self.states.do("book_oil")
        price = self.oil_price()
        self.commit(self.relations, self.states)
        self.energy_price = float32(price)

    def oil_price(self) -> float:
        """World oil price from the shortfall of deliveries against demand, USD/bbl.

          P = P0 exp(min(log(clip(sum_i D_i / (sum_e F_e + 1e-9), 1, 2)) / eps, log PRICE_CAP))   (P0 without demand)
        with P0 = energy_price_base, eps = energy_price_elasticity and F_e this step's flows.
        """
        p = self.params
        demand = sum(state.energy_demand for state in self.states)
        if not demand > 0:
            return p.energy_price_base
        shortfall = min(max(demand / (sum(route.flow for route in self.oil_routes) + TINY), 1.0), 2.0)
        return p.energy_price_base * math.exp(min(math.log(shortfall) / p.energy_price_elasticity, math.log(PRICE_CAP)))

    def grow_economies(self, key: jax.Array) -> None:
        """Economy: each state's gdp, growth and power, at this week's oil price and the world's supply and demand."""
        self.states.do("assess_exposure")
        demand = sum(state.energy_demand for state in self.states)
        supply = sum(state.energy_supply for state in self.states)
        self.states.do("grow", self.energy_price, min(1.0, demand / (supply + 1e-9)))
        self.commit(self.states)

    def update_tension_and_conflict(self, key: jax.Array) -> None:
        """Tension and conflict: each relation's tension, then the pair's conflict.

        Draws one standard normal per dyad, ``jax.random.normal(key, [E], float32)`` (the incidents).
        """
        incidents = draw(jax.random.normal, key, (len(self.relations),), np.float32)
        self.states.do("assess_threats")
        self.relations.do("feel_tension", incidents)
        self.relations.do("settle_conflict", self.parties_to("ceasefire"))
        self.commit(self.relations)

    def update_alliances(self, key: jax.Array) -> None:
        """Alliances: each relation's weight drifts toward its target; the pair then shares the mean."""
        self.states.do("assess_bloc_threats", self.n_blocs)
        self.relations.do("seek_alliance")
        self.relations.do("share_alliance")
        self.commit(self.relations)

    def fade_trust(self, key: jax.Array) -> None:
        """Trust: each relation's memory of compliance and violations fades."""
        self.relations.do("fade_trust")
        self.commit(self.relations)

    def update_approval(self, key: jax.Array) -> None:
        """Approval: each leader's standing follows the economy and war."""
        self.states.do("update_approval")
        self.commit(self.states)

    # --- the world as arrays --------------------------------------------------------------------

    def to_world(self) -> World:
        """The current world as the core holds it: a ``World`` of numpy arrays of the core's dtypes."""
        w = self.template
        states, relations = list(self.states), list(self.relations)
        state_fields = {f.name: _column([getattr(s, f.name) for s in states], getattr(w.states, f.name))
                        for f in dataclasses.fields(w.states)}
        fixed = ("src", "dst", "reverse")
        dyad_fields = {f.name: _column([getattr(r, f.name) for r in relations], getattr(w.dyads, f.name))
                       for f in dataclasses.fields(w.dyads) if f.name not in fixed}
        agreements = list(self.agreements)
        parties = {name: _column([getattr(a, name).index for a in agreements], getattr(w.agreements, name))
                   for name in ("party_a", "party_b")}
        slot_fields = {f.name: _column([getattr(a, f.name) for a in agreements], getattr(w.agreements, f.name))
                       for f in dataclasses.fields(w.agreements) if f.name not in parties}
        return w.replace(
            states=replace(w.states, **state_fields),
            dyads=replace(w.dyads, **dyad_fields),
            envoys=replace(w.envoys, active=_column([envoy.active for envoy in self.envoys], w.envoys.active)),
            agreements=replace(w.agreements, **parties, **slot_fields),
            energy_price=_column([self.energy_price], w.energy_price),
            step=np.asarray(self.week, np.int32),
        )
