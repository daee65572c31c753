"""``Relation``: state i's relation to state j (the directed dyad i->j), a Mesa agent owned by i.

A relation holds what i does to j and believes about j (tension, sanctions,
trust counts, its exports to j, ...); ``reverse`` is j's relation to i.  Its
methods are the per-dyad rules, one per phase, in the core's process order;
each reads the current world and writes this relation's new values to
``self.next`` (see ``SynchronousAgent``).  Notation, for the relation e = i->j
with reverse r(e): t tension, w alliance, s sanction, q secondary sanction,
c conflict, ch channel, T trade, T* trade potential, alpha/beta trust counts,
p power, A approval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diplosim.mechanisms.agreements import RESTORED_CHANNEL
from diplosim.mechanisms.decisions import CONFLICT_LEVEL
from diplosim.reference.agreements import CHANNEL_RESTORATION, PROXY, SANCTIONS_RELIEF
from diplosim.reference.common import SynchronousAgent, clip, float32

if TYPE_CHECKING:
    from diplosim.reference.agreements import Agreement
    from diplosim.reference.events import Event
    from diplosim.reference.state import State

AT_WAR = float32(CONFLICT_LEVEL)  # the core compares conflict with this float32 constant


def _hold(impose: bool, lift: bool, current: float) -> float:
    """Target 0 where ``lift`` (it wins), 1 where ``impose``, else the current level."""
    return 0.0 if lift else 1.0 if impose else current


class Relation(SynchronousAgent):
    """State ``source``'s relation to state ``target``: dyad ``index`` of the world, source -> target."""

    def __init__(self, model, index: int, source: State, target: State, values: dict):
        super().__init__(model)
        self.index = index  # row of the world's dyad arrays, and of the core's per-dyad draws
        self.source = source
        self.target = target
        self.reverse: Relation = self  # target's relation to source (set once every relation exists)
        self.alliance = values["alliance"]  # alliance weight (symmetric)
        self.trade_potential = values["trade_potential"]  # frictionless exports, USD bn/yr
        self.trade = values["trade"]  # exports source -> target, USD bn/yr
        self.energy_flow = values["energy_flow"]  # oil shipped source -> target, mb/d
        self.tension = values["tension"]  # source's hostility toward target
        self.trust_alpha = values["trust_alpha"]  # Beta count of target's observed compliance
        self.trust_beta = values["trust_beta"]  # Beta count of target's observed violations
        self.sanction = values["sanction"]  # sanctions source imposes on target
        self.secondary_sanction = values["secondary_sanction"]  # source penalises buyers of target's oil
        self.conflict = values["conflict"]  # armed-conflict intensity (symmetric)
        self.channel = values["channel"]  # diplomatic channel level
        self.scheduled: list[tuple[Event, bool]] = []  # shocks on this dyad (True) or its reverse (False), in schedule order
        self.oil_route = False  # whether oil can flow here (supply at source, demand at target)
        # within a step: what one phase leaves for the next (never committed)
        self.sanction_target = self.secondary_target = 0.0  # decisions
        self.offers_ceasefire = self.signals = False  # decisions
        self.news: list[Agreement] = []  # agreements binding source and target reviewed this step
        self.friction = self.openness = self.flow = self.order = 0.0  # trade and the oil market
        self.escalation = 0.0  # tension: conflict pushed by the new tension, before the pair settles it
        self.drifted_alliance = 0.0  # alliances: alliance moved toward its target, before the pair shares it

    @property
    def trust(self) -> float:
        """Source's expected reliability of target: alpha / (alpha + beta)."""
        return self.trust_alpha / (self.trust_alpha + self.trust_beta)

    # --- events ---------------------------------------------------------------------------------

    def react_to_events(self, week: int) -> None:
        """The shocks scheduled on this dyad (or its reverse) for ``week``, in schedule order.

        For an event v of magnitude m_v on the dyad a->b (b->a its reverse):
          sanction          s_ab <- m_v   (magnitude 0 lifts it; the later of two wins)
          secondary         q_ab <- m_v
          military signal   t_ab, t_ba += m_v signal_tension   (then clipped to [0, 1])
          incentive         T*_ab, T*_ba *= 1 + m_v incentive_trade;  alpha_ba += m_v incentive_trust
          conflict onset    c_ab, c_ba <- max(c, m_v)
          channel restored  ch_ab, ch_ba <- max(ch, m_v)
        """
        now = [(event, forward) for event, forward in self.scheduled if event.step == week]
        if not now:
            return
        p = self.model.params
        sanction, secondary, tension = self.sanction, self.secondary_sanction, self.tension
        potential, alpha, conflict, channel = self.trade_potential, self.trust_alpha, self.conflict, self.channel
        for event, forward in now:
            m = event.magnitude
            if event.kind == "sanction" and forward:
                sanction = m
            elif event.kind == "secondary_sanction" and forward:
                secondary = m
            elif event.kind == "military_signal":
                tension += m * p.signal_tension
            elif event.kind == "incentive":
                potential *= 1.0 + m * p.incentive_trade
                if not forward:  # the target now trusts the actor more
                    alpha += m * p.incentive_trust
            elif event.kind == "conflict_onset":
                conflict = max(conflict, m)
            elif event.kind == "channel_restoration":
                channel = max(channel, m)
        self.next.update(sanction=sanction, secondary_sanction=secondary, tension=clip(tension), trade_potential=potential,
                         trust_alpha=alpha, conflict=conflict, channel=channel)

    # --- decisions ------------------------------------------------------------------------------

    def choose_actions(self, signal_draws: list, relieved: set, ceasefire_parties: set, orders) -> None:
        """Source's default rules toward target this step, unless its ``decide()`` hook gave orders.

          sanctions   target 0 if t < sanction_lift_tension or a sanctions-relief agreement binds i and j,
                      else 1 if t > sanction_impose_tension and w < sanction_ally_limit, else s
          secondary   target 0 if t < sanction_lift_tension or j is party to a ceasefire in force,
                      else 1 if s >= 1/2, t > secondary_tension, p_i > p_j and j exports oil, else q
          ceasefire   i offers j one if c > 0.1 and (A_i < ceasefire_approval or p_i / (p_i + p_j + 1e-9) <
                      ceasefire_power_share)
          signal      i signals j if u < signal_rate (t - signal_threshold)^+   (u: this dyad's uniform draw)
        ``relieved``: the relations a sanctions-relief agreement in force
        covers; ``orders`` = (values, mask) of the ``decide()`` hooks (lists
        by dyad), or None.
        """
        p, i, j = self.model.params, self.source, self.target
        calm = self.tension < p.sanction_lift_tension
        relief = self in relieved
        hostile = self.tension > p.sanction_impose_tension and self.alliance < p.sanction_ally_limit
        self.sanction_target = _hold(hostile and not relief, calm or relief, self.sanction)
        threatens = (self.sanction >= 0.5 and self.tension > p.secondary_tension and i.power > j.power
                     and j.energy_supply > 0)
        self.secondary_target = _hold(threatens, calm or j in ceasefire_parties, self.secondary_sanction)
        share = i.power / (i.power + j.power + 1e-9)
        weary = i.approval < p.ceasefire_approval or share < p.ceasefire_power_share
        self.offers_ceasefire = self.conflict > AT_WAR and weary
        self.signals = signal_draws[self.index] < p.signal_rate * max(self.tension - p.signal_threshold, 0.0)
        if orders is not None:
            values, mask = orders
            e = self.index
            if mask.sanction[e]:
                self.sanction_target = values.sanction[e]
            if mask.secondary[e]:
                self.secondary_target = values.secondary[e]
            if mask.propose_ceasefire[e]:
                self.offers_ceasefire = values.propose_ceasefire[e]
            if mask.signal[e]:
                self.signals = values.signal[e]

    def carry_out_actions(self) -> None:
        """Sanctions move toward their targets; tension answers ceasefire offers and signals.

          s <- clip(s + sanction_rate (target - s)),  q <- clip(q + secondary_rate (target - q))
          t <- clip(t - goodwill_tension [i offers, j does not] + signal_size signal_tension [i or j signals])
        """
        p, back = self.model.params, self.reverse
        unanswered = self.offers_ceasefire and not back.offers_ceasefire
        signalled = self.signals or back.signals
        push = p.signal_size * p.signal_tension
        self.next.update(
            sanction=clip(self.sanction + p.sanction_rate * (self.sanction_target - self.sanction)),
            secondary_sanction=clip(self.secondary_sanction + p.secondary_rate * (self.secondary_target - self.secondary_sanction)),
            tension=clip(self.tension - p.goodwill_tension * unanswered + push * signalled),
        )

    # --- negotiation ----------------------------------------------------------------------------

    def resent_exclusions(self, summits: list[Event]) -> None:
        """Summits firing now that exclude one of the pair and seat the other.

        For each summit v on issue k that excludes x and seats p (each pair of memberships):
          w_xp, w_px -= m_v s_x,k exclusion_alliance   (then clipped);   beta_xp += m_v s_x,k exclusion_trust
        """
        p = self.model.params
        mine = sum(summit.slight(self.source, self.target) for summit in summits)  # source excluded, target seated
        theirs = sum(summit.slight(self.target, self.source) for summit in summits)
        if mine > 0 or theirs > 0:
            self.next.update(alliance=clip(self.alliance - (mine + theirs) * p.exclusion_alliance),
                             trust_beta=self.trust_beta + mine * p.exclusion_trust)

    # --- agreements -----------------------------------------------------------------------------

    def hear_agreement_news(self, ceasefire_breakers: set) -> None:
        """Consequences of this step's reviews of the agreements binding source and target, in slot order.

        For each such agreement (``news``):
          a break by either party caught:  t += violation_tension
          else:                            alpha += compliance_trust g_h   (g_h = 1 official, proxy_trust_factor proxy)
          target caught breaking it:       beta += violation_trust;  s <- max(s, snapback_sanction)
        then, once each: an unbroken sanctions relief s *= 1 - relief_rate; an unbroken channel restoration
        ch <- max(ch, 0.9); and where source or target broke a ceasefire, the tension of the pair (before this
        step's violations) exceeds conflict_threshold either way and both were at war at step 0:
        c <- max(c, violation_relapse).
        """
        p = self.model.params
        tension, alpha, beta, sanction = self.tension, self.trust_alpha, self.trust_beta, self.sanction
        relieved = restored = False
        for agreement in self.news:
            if agreement.caught_a or agreement.caught_b:
                tension += p.violation_tension
            else:
                alpha += p.compliance_trust * (p.proxy_trust_factor if agreement.channel == PROXY else 1.0)
                relieved = relieved or agreement.kind == SANCTIONS_RELIEF
                restored = restored or agreement.kind == CHANNEL_RESTORATION
            if agreement.caught_breaking(self.target):  # source now doubts target and sanctions it
                beta += p.violation_trust
                sanction = max(sanction, p.snapback_sanction)
        heard = bool(self.news)
        self.news.clear()
        hot = max(self.tension, self.reverse.tension) > p.conflict_threshold
        relapse = ((self.source in ceasefire_breakers or self.target in ceasefire_breakers) and hot
                   and self.source.conflict_baseline > 0 and self.target.conflict_baseline > 0)
        if not (heard or relapse):
            return
        self.next.update(
            tension=clip(tension), trust_alpha=alpha, trust_beta=beta,
            sanction=clip(sanction * (1 - p.relief_rate) if relieved else sanction),
            channel=max(self.channel, RESTORED_CHANNEL) if restored else self.channel,
            conflict=max(self.conflict, p.violation_relapse) if relapse else self.conflict,
        )

    # --- trade and energy -----------------------------------------------------------------------

    def relax_trade(self) -> None:
        """Trade relaxes toward its frictional target; an oil route opens as far as frictions and threats allow.

          friction = (1 - sanction_trade_damping max(s, s_r(e))) (1 - conflict_trade_damping c)
                     (closed_channel_trade + (1 - closed_channel_trade) ch)
          T <- T + trade_relax (T* friction - T)
          openness = friction (1 - secondary_diversion X_i)   (X_i: the seller's exposure, ``State.assess_exposure``)
        The oil market starts from no flow.
        """
        p = self.model.params
        self.friction = (
            (1.0 - p.sanction_trade_damping * max(self.sanction, self.reverse.sanction))
            * (1.0 - p.conflict_trade_damping * self.conflict)
            * (p.closed_channel_trade + (1.0 - p.closed_channel_trade) * self.channel)
        )
        self.next["trade"] = self.trade + p.trade_relax * (self.trade_potential * self.friction - self.trade)
        self.flow = 0.0
        if self.oil_route:
            self.openness = self.friction * (1.0 - p.secondary_diversion * self.source.exposure)

    def ship_oil(self) -> None:
        """The oil the market cleared on this dyad (0 off the oil routes), mb/d."""
        self.next["energy_flow"] = self.flow

    # --- tension and conflict -------------------------------------------------------------------

    def feel_tension(self, incidents: list) -> None:
        """Tension relaxes toward its drive, plus an incident; the new tension pushes conflict.

          drive = clip(tension_base + a_s max(s, s_r(e)) + a_c c + a_B K + a_d d_ij - a_w w - a_t (trust - 1/2))
          t    <- clip(t + tension_relax (drive - t) + tension_noise z)       (z: this dyad's normal draw)
          escalation = c + g_up (t - theta)^+ (2 p_i / (p_i + p_j + A_j + 1e-9) - 1)^+ - g_down (theta - t)^+
        with K the highest conflict between j and a member of i's bloc, d_ij the position distance, A_j the
        power of j's allies (both from ``State.assess_threats``), theta = conflict_threshold.
        """
        p, i, j = self.model.params, self.source, self.target
        drive = clip(
            p.tension_base
            + p.tension_sanction * max(self.sanction, self.reverse.sanction)
            + p.tension_conflict * self.conflict
            + p.tension_bloc_conflict * j.conflict_with_bloc.get(i.bloc, 0.0)
            + p.tension_distance * i.distance_to(j)
            - p.tension_alliance * self.alliance
            - p.tension_trust * (self.trust - 0.5)
        )
        tension = clip(self.tension + p.tension_relax * (drive - self.tension) + p.tension_noise * incidents[self.index])
        strength = max(2.0 * i.power / (i.power + j.power + j.allied_power + 1e-9) - 1.0, 0.0)
        self.escalation = (
            self.conflict
            + p.conflict_escalation * max(tension - p.conflict_threshold, 0.0) * strength
            - p.conflict_deescalation * max(p.conflict_threshold - tension, 0.0)
        )
        self.next["tension"] = tension

    def settle_conflict(self, ceasefire_parties: set) -> None:
        """The pair fights at the higher of its two escalations, capped by a ceasefire.

          c <- min(clip(max(escalation, escalation_r(e))), cap),  cap = ceasefire_cap while i or j is party
          to a ceasefire in force, else 1
        """
        p = self.model.params
        bound = self.source in ceasefire_parties or self.target in ceasefire_parties
        self.next["conflict"] = min(clip(max(self.escalation, self.reverse.escalation)), p.ceasefire_cap if bound else 1.0)

    # --- alliances ------------------------------------------------------------------------------

    def seek_alliance(self) -> None:
        """Alliance weight drifts toward what blocs, shared threats, trust and positions justify.

          shared = sum_{b not in {bloc(i), bloc(j)}} theta_ib theta_jb     (theta: ``State.assess_bloc_threats``)
          target = clip(alliance_bloc [bloc(i) = bloc(j)] + alliance_threat shared
                        + alliance_trust ((trust + trust_r(e)) / 2 - 1/2) - alliance_distance d_ij)
          drifted = w + alliance_relax (target - w)
        """
        p, i, j = self.model.params, self.source, self.target
        shared = 0.0
        for b, (threat_i, threat_j) in enumerate(zip(i.threat_from_bloc, j.threat_from_bloc, strict=True)):
            if b != i.bloc and b != j.bloc:
                shared += threat_i * threat_j
        target = clip(
            p.alliance_bloc * (i.bloc == j.bloc)
            + p.alliance_threat * shared
            + p.alliance_trust * (0.5 * (self.trust + self.reverse.trust) - 0.5)
            - p.alliance_distance * i.distance_to(j)
        )
        self.drifted_alliance = self.alliance + p.alliance_relax * (target - self.alliance)

    def share_alliance(self) -> None:
        """The pair shares the mean of its two drifted weights: w <- clip((drifted + drifted_r(e)) / 2)."""
        self.next["alliance"] = clip(0.5 * (self.drifted_alliance + self.reverse.drifted_alliance))

    # --- trust ----------------------------------------------------------------------------------

    def fade_trust(self) -> None:
        """Memory of compliance and violations fades toward the prior a0 = trust_prior.

          alpha <- a0 + (1 - trust_decay)(alpha - a0),  beta <- a0 + (1 - trust_decay)(beta - a0)
        """
        p = self.model.params
        keep = 1.0 - p.trust_decay
        self.next.update(trust_alpha=p.trust_prior + keep * (self.trust_alpha - p.trust_prior),
                         trust_beta=p.trust_prior + keep * (self.trust_beta - p.trust_prior))
