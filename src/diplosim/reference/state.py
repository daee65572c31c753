"""``State``: a sovereign state as a Mesa agent, owning its relations to its partners.

A state holds its own figures (gdp, power, approval, its positions on the
issues, ...), its outgoing relations (``relations``: the dyads i->j, each a
``Relation`` agent) and sees the relations arriving at it (``incoming``: the
dyads j->i, its partners' relations to it).  Its methods are the per-state
rules, one per phase, in the core's process order; each reads the current
world and writes this state's new values to ``self.next`` (see
``SynchronousAgent``), or, for an ``assess_*`` phase, what it gathers from
its partners for the next phase to read.
"""

from __future__ import annotations

from collections import defaultdict

from diplosim.mechanisms.economy import BBL_PER_DAY_TO_BN_PER_YEAR, GDP_FLOOR, GROWTH_CEILING, GROWTH_FLOOR
from diplosim.reference.agreements import Candidate
from diplosim.reference.common import SynchronousAgent, clip
from diplosim.reference.relation import Relation
from diplosim.world import DT

TINY = 1e-9


class State(SynchronousAgent):
    """State ``index`` of the world (row ``index`` of its state arrays)."""

    def __init__(self, model, index: int, values: dict):
        super().__init__(model)
        self.index = index
        self.power = values["power"]  # military capability, USD bn/yr
        self.gdp = values["gdp"]  # USD bn/yr
        self.military_share = values["military_share"]  # share of gdp spent on defence
        self.approval = values["approval"]  # domestic support for the leadership
        self.approval_baseline = values["approval_baseline"]
        self.reliability = values["reliability"]  # chance of honouring a commitment each step
        self.position = values["position"]  # ideal point on each issue, list of K floats
        self.salience = values["salience"]  # weight given to each issue, list of K floats
        self.energy_supply = values["energy_supply"]  # exportable oil, mb/d
        self.energy_demand = values["energy_demand"]  # oil import demand, mb/d
        self.energy_bought = values["energy_bought"]  # oil imported last step, mb/d
        self.energy_sold = values["energy_sold"]  # oil exported last step, mb/d
        self.growth = values["growth"]  # gdp growth last step, 1/yr
        self.conflict_baseline = values["conflict_baseline"]  # highest conflict at step 0
        self.bloc = values["bloc"]  # bloc index
        self.trade_baseline = values["trade_baseline"]  # exports + imports at step 0, USD bn/yr
        # salience never changes in a run: sum_k s_k + 1e-6, the denominator of the position distance
        self.salience_total = sum(self.salience) + 1e-6
        self.relations: list[Relation] = []  # this state's relations to its partners, i -> j, in dyad order
        self.incoming: list[Relation] = []  # its partners' relations to it, j -> i, in dyad order
        self.relation_to: dict[State, Relation] = {}  # partner -> this state's relation to it
        self.oil_exports: list[Relation] = []  # its relations that are oil routes (it sells)
        self.oil_imports: list[Relation] = []  # incoming relations that are oil routes (it buys)
        # within a step: what one phase leaves for the next (never committed)
        self.moves: dict[int, list[float]] = defaultdict(list)  # negotiation: issue -> moves from this stage's talks
        self.exposure = 0.0  # trade, economy: X_i
        self.unmet_demand = self.spare_supply = 0.0  # oil market, one round
        self.conflict_with_bloc: dict[int, float] = {}  # tension: bloc -> highest conflict with a member
        self.allied_power = 0.0  # tension: A_i
        self.threat_from_bloc: list[float] = []  # alliances: theta_i,b for each bloc b

    # --- what a state computes from its own figures ---------------------------------------------

    def flexibility(self) -> float:
        """How far its leader is free to move in talks: f0 + (1 - f0) A  (f0 = flexibility_floor)."""
        floor = self.model.params.flexibility_floor
        return floor + (1.0 - floor) * self.approval

    def distance_to(self, other: State) -> float:
        """Salience-weighted distance of the two states' positions, symmetrised, in [0, 1].

          d_ij = 1/2 (sum_k s_ik |x_ik - x_jk| / (sum_k s_ik + 1e-6) + sum_k s_jk |x_ik - x_jk| / (sum_k s_jk + 1e-6))
        """
        weighted_i = weighted_j = 0.0
        for x_i, s_i, x_j, s_j in zip(self.position, self.salience, other.position, other.salience, strict=True):
            gap = abs(x_i - x_j)
            weighted_i += s_i * gap
            weighted_j += s_j * gap
        return 0.5 * (weighted_i / self.salience_total + weighted_j / other.salience_total)

    def highest_conflict(self) -> float:
        """C_i: the highest conflict intensity over its partners' relations to it (0 if none), in [0, 1]."""
        return clip(max((relation.conflict for relation in self.incoming), default=0.0))

    # --- negotiation ----------------------------------------------------------------------------

    def settle_positions(self) -> None:
        """Each issue it talked on this stage moves by the mean of its moves, clipped to [0, 1]."""
        if not self.moves:
            return
        position = list(self.position)
        for k, deltas in self.moves.items():
            position[k] = clip(position[k] + sum(deltas) / len(deltas))
        self.moves.clear()
        self.next["position"] = position

    def weigh_deals(self, signed: list[Candidate]) -> None:
        """Approval moves with each deal signed this step that it is party to (then clipped to [0, 1]).

          A += approval_deal s_k (1 - 2 |x_before - terms|)   (x_before: its position before the talks)
        """
        p = self.model.params
        approval = self.approval
        for deal in signed:
            for party, before in zip((deal.party_a, deal.party_b), deal.before, strict=True):
                if party is self:
                    approval += p.approval_deal * self.salience[deal.issue] * (1.0 - 2.0 * abs(before - deal.terms))
        self.next["approval"] = clip(approval)

    # --- trade and energy -----------------------------------------------------------------------

    def assess_exposure(self) -> None:
        """X_i = min(1, sum of the secondary sanctions on it): how far buyers of its oil risk penalties."""
        self.exposure = clip(sum(relation.secondary_sanction for relation in self.incoming))

    def take_stock(self) -> None:
        """Oil market round, first stage: as a buyer, its unmet demand; as a seller, its capacity left.

          U_i = max(D_i - sum_{e -> i} F_e, 0),   C_i = max(S_i - sum_{e from i} F_e, 0)   (F: the flows so far)
        """
        self.unmet_demand = max(self.energy_demand - sum(route.flow for route in self.oil_imports), 0.0)
        self.spare_supply = max(self.energy_supply - sum(route.flow for route in self.oil_exports), 0.0)

    def place_orders(self) -> None:
        """Oil market round, second stage: as a buyer, it spreads its unmet demand over its sellers.

          w_e = C_seller openness_e,   order_e = U_i w_e / (sum_{e' -> i} w_e' + 1e-9)
        """
        weights = [route.source.spare_supply * route.openness for route in self.oil_imports]
        offered = sum(weights)
        for route, weight in zip(self.oil_imports, weights, strict=True):
            route.order = self.unmet_demand * weight / (offered + TINY)

    def fill_orders(self) -> None:
        """Oil market round, last stage: as a seller, it fills its orders up to its capacity left.

          F_e += order_e min(1, C_i / (sum_{e' from i} order_e' + 1e-9))
        """
        ordered = sum(route.order for route in self.oil_exports)
        fill = min(1.0, self.spare_supply / (ordered + TINY))
        for route in self.oil_exports:
            route.flow += route.order * fill

    def book_oil(self) -> None:
        """The oil it bought and sold this step, once the market has cleared, mb/d."""
        self.next.update(energy_bought=sum(route.flow for route in self.oil_imports),
                         energy_sold=sum(route.flow for route in self.oil_exports))

    # --- economy --------------------------------------------------------------------------------

    def oil_income(self, price: float, market_share: float) -> float:
        """O_i: its income from oil against a frictionless market, USD bn/yr.

          O_i = 0.365 [ (P - P0)(sold - bought) - P (S_i m - sold)^+ - P (D_i - bought)^+ - c_q P sum_{e = k->i} F_e X_k ]
        with m = min(1, sum D / (sum S + 1e-9)) (``market_share``) and X_k seller k's exposure.
        """
        p = self.model.params
        penalised = sum(route.energy_flow * route.source.exposure for route in self.oil_imports)
        return BBL_PER_DAY_TO_BN_PER_YEAR * (
            (price - p.energy_price_base) * (self.energy_sold - self.energy_bought)
            - price * max(self.energy_supply * market_share - self.energy_sold, 0.0)
            - price * max(self.energy_demand - self.energy_bought, 0.0)
            - p.secondary_cost * price * penalised
        )

    def grow(self, price: float, market_share: float) -> None:
        """Its gdp grows with trade and oil and shrinks with conflict; power follows defence spending.

          g = clip(g0 + g_T min(T / T0 - 1, 1) - c_C (C_i - C0_i) + O_i / Y, GROWTH_FLOOR, GROWTH_CEILING)
          Y <- max(Y (1 + g / 52), GDP_FLOOR)
          power <- max(power + power_relax (m Y - power) - conflict_power_cost C_i power, 0)
        with T its exports + imports (the trade term is 0 when T0 = 0), m its military share.
        """
        p = self.model.params
        traded = sum(relation.trade for relation in self.relations) + sum(relation.trade for relation in self.incoming)
        trade_gain = traded / max(self.trade_baseline, 1e-9) - 1.0 if self.trade_baseline > 0 else 0.0
        conflict = self.highest_conflict()
        growth = clip(
            p.growth_base
            + p.growth_trade * min(trade_gain, 1.0)
            - p.conflict_gdp_cost * (conflict - self.conflict_baseline)
            + self.oil_income(price, market_share) / self.gdp,
            GROWTH_FLOOR, GROWTH_CEILING,
        )
        gdp = max(self.gdp * (1.0 + DT * growth), GDP_FLOOR)
        power = max(self.power + p.power_relax * (self.military_share * gdp - self.power)
                    - p.conflict_power_cost * conflict * self.power, 0.0)
        self.next.update(gdp=gdp, growth=growth, power=power)

    # --- tension and conflict -------------------------------------------------------------------

    def assess_threats(self) -> None:
        """From its partners' relations to it: its highest conflict with each bloc, and its allies' power.

          K_i,b = max over k->i with bloc(k) = b of c_ki,   A_i = sum_{k->i} w_ki p_k
        """
        worst: dict[int, float] = {}
        allied = 0.0
        for relation in self.incoming:
            partner = relation.source
            worst[partner.bloc] = max(worst.get(partner.bloc, 0.0), relation.conflict)
            allied += relation.alliance * partner.power
        self.conflict_with_bloc, self.allied_power = worst, allied

    # --- alliances ------------------------------------------------------------------------------

    def assess_bloc_threats(self, n_blocs: int) -> None:
        """theta_i,b: the mean hostility it receives from the members of each bloc b (0 from none).

          theta_i,b = mean over k->i with bloc(k) = b of max(t_ki, s_ki)
        """
        total, count = [0.0] * n_blocs, [0] * n_blocs
        for relation in self.incoming:
            b = relation.source.bloc
            total[b] += max(relation.tension, relation.sanction)
            count[b] += 1
        self.threat_from_bloc = [t / max(c, 1) for t, c in zip(total, count, strict=True)]

    # --- approval -------------------------------------------------------------------------------

    def update_approval(self) -> None:
        """Its leader's approval relaxes toward what the economy and war justify.

          target = clip(A0 + approval_growth (g - g0) - approval_conflict (C_i - C0_i)),  A <- A + approval_relax (target - A)
        """
        p = self.model.params
        target = clip(self.approval_baseline + p.approval_growth * (self.growth - p.growth_base)
                      - p.approval_conflict * (self.highest_conflict() - self.conflict_baseline))
        self.next["approval"] = self.approval + p.approval_relax * (target - self.approval)
