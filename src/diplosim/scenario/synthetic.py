"""Generated worlds of any size, for scale work (``kind: synthetic``).

Every step is a vectorised numpy operation over states or dyads (no Python
loop over either), so 10^6 states and ~10^7 directed dyads build in seconds.
The world is determined by ``generator_seed`` alone; each part (places,
economy, graph, ties, envoys) draws from its own stream, so changing how one
part is drawn leaves the others unchanged.

The world:
- states lie at random points of the unit square; ``n_blocs`` random
  centres split the square into blocs (a state joins the nearest centre);
- the undirected partner graph is scale-free (Chung-Lu: endpoints drawn in
  proportion to Pareto weights, degree exponent ~2.5) with
  ``n_states * dyads_per_state / 2`` distinct edges, each a dyad both ways;
- gdp (USD bn/yr) is lognormal times the graph weight (hubs are big
  economies), summing to the world's ~110 tn; trade potential is a gravity
  model gdp_i gdp_j / distance summing to 25% of world gdp;
- alliances bind within blocs (0.6) more than across (0.05); tension is
  higher across blocs (0.25) than within (0.05);
- a tenth of the states export oil; importers demand oil in proportion to
  gdp (45 mb/d in all), every importer has an exporting partner, and each
  exporter supplies 1.05 x the demand routed to it, so the step-0 market
  clears along the dyads with a 5% cushion;
- four events give the mechanisms something to do: a sanction (step 1), a
  summit of the two largest states with a few of their bloc partners left
  out (step 2), a military signal (step 4), secondary sanctions on the
  largest oil-exporting economy (step 6).  The dyad between the two largest
  states is watched.
"""

from __future__ import annotations

import numpy as np
from pydantic import ValidationError

from diplosim.scenario import Scenario, ScenarioError
from diplosim.scenario.build import (
    DEFAULT_ENERGY_PRICE,
    TRUST_PRIOR,
    assemble_world,
    empty_agreements,
    issue_agreements,
    trade_baseline,
    with_initial_state,
)
from diplosim.scenario.schema import SyntheticSpec, describe_error
from diplosim.world import CHANNELS, EVENT_KINDS

WORLD_GDP = 110_000.0  # USD bn/yr, world nominal gdp 2024
GDP_SPREAD = 1.0  # sigma of log gdp on top of the graph weight
TRADE_SHARE = 0.25  # world exports / world gdp
OIL_TRADE = 45.0  # mb/d, world crude and product imports
EXPORTER_SHARE = 0.10  # share of states that export oil
SUPPLY_MARGIN = 1.05  # total supply / total demand
SUPPLY_ROUNDS = 200  # at most this many updates fitting each exporter's supply to its buyers' demand
SUPPLY_TOLERANCE = 0.03  # ... stopping when no seller's orders exceed its supply by more than 3% (of the 5% cushion)
PARETO_SHAPE = 1.5  # weight tail P(w > x) ~ x^-1.5: degree exponent 2.5
ALLIANCE_WITHIN, ALLIANCE_ACROSS = 0.6, 0.05
TENSION_WITHIN, TENSION_ACROSS = 0.05, 0.25
NEAREST = 0.01  # distance floor of the gravity model (unit square)
TRADE_NOISE = 0.3  # sigma of the log of each dyad's idiosyncratic trade factor
POSITION_NOISE = 0.1  # spread of positions around the bloc's centre
PROXY_SHARE = 0.3  # share of envoys on proxy channels
EXACT_PAIRS = 2_000_000  # up to this many possible pairs, sample edges exactly
TOP_UP_ROUNDS = 30
STREAMS = ("place", "economy", "graph", "ties", "envoys")


# what a deal on each generated issue signs (issues beyond these sign nothing)
SYNTHETIC_AGREEMENTS = {"issue_0": "ceasefire", "issue_1": "sanctions_relief", "issue_2": "channel_restoration", "issue_3": "territorial"}

def synthetic_scenario(
    n_states: int,
    dyads_per_state: int = 10,
    n_blocs: int = 3,
    n_issues: int = 3,
    n_envoys: int = 0,
    generator_seed: int = 0,
    *,
    agreement_slots: int = 16,
) -> Scenario:
    """A generated world of N = ``n_states`` states and ~N ``dyads_per_state`` directed dyads.

    Raises ``ScenarioError`` when an argument is out of range (see
    ``SyntheticSpec``).
    """
    spec = _checked(n_states, dyads_per_state, n_blocs, n_issues, n_envoys, generator_seed)
    draws = random_streams(spec.generator_seed)
    n = spec.n_states
    location = draws["place"].random((n, 2))
    bloc = nearest_centre(location, draws["place"].random((spec.n_blocs, 2)))
    weight = 1.0 + draws["graph"].pareto(PARETO_SHAPE, n)
    states, exporter = _states(draws["economy"], weight, bloc, spec.n_issues, spec.n_blocs)
    schedule = _schedule(states, exporter)
    required = _required(schedule, draws["graph"], weight, exporter, spec.dyads_per_state)
    edges = scale_free_edges(draws["graph"], weight, n * spec.dyads_per_state // 2, required)
    dyads, sorted_keys = _dyads(draws["ties"], edges, n, states, location)
    states["energy_supply"] = oil_supply(exporter, states["energy_demand"], dyads["src"], dyads["dst"])
    states["trade_baseline"] = trade_baseline(dyads["trade_potential"], dyads["src"], dyads["dst"], n)
    states = with_initial_state(states)
    events = _events(schedule, sorted_keys, n)
    watch = find_dyads(sorted_keys, n, [schedule["top"][0]], [schedule["top"][1]])
    envoys = _envoys(draws["envoys"], spec.n_envoys, dyads, watch[0])
    width = max(7, len(str(n - 1)))
    names = tuple(f"S{i:0{width}d}" for i in range(n))
    world = assemble_world(
        states=states,
        envoys=envoys,
        dyads=dyads,
        agreements=empty_agreements(agreement_slots),
        events=events,
        watch=watch,
        energy_price=DEFAULT_ENERGY_PRICE,
        n_blocs=spec.n_blocs,
        issue_agreement=issue_agreements([f"issue_{k}" for k in range(spec.n_issues)], SYNTHETIC_AGREEMENTS),
    )
    return Scenario(
        name="synthetic",
        world=world,
        states=names,
        blocs=tuple(f"bloc_{b}" for b in range(spec.n_blocs)),
        issues=tuple(f"issue_{k}" for k in range(spec.n_issues)),
        envoys=tuple(f"envoy_{m}" for m in range(spec.n_envoys)),
        events=tuple(f"e{v}_{EVENT_KINDS[kind]}" for v, kind in enumerate(schedule["kind"])),
        watch=(f"{names[schedule['top'][0]]}_{names[schedule['top'][1]]}",),
        source="synthetic",
        description=(
            f"synthetic world: {n} states, {spec.dyads_per_state} dyads per state, "
            f"{spec.n_blocs} blocs, {spec.n_issues} issues, seed {spec.generator_seed}"
        ),
    )


def random_streams(generator_seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per part of the world (``STREAMS``), all from one seed."""
    seeds = np.random.SeedSequence(generator_seed).spawn(len(STREAMS))
    return {part: np.random.default_rng(seed) for part, seed in zip(STREAMS, seeds)}


def _checked(n_states, dyads_per_state, n_blocs, n_issues, n_envoys, generator_seed) -> SyntheticSpec:
    fields = dict(
        n_states=n_states,
        dyads_per_state=dyads_per_state,
        n_blocs=n_blocs,
        n_issues=n_issues,
        n_envoys=n_envoys,
        generator_seed=generator_seed,
    )
    try:
        return SyntheticSpec(**fields)
    except ValidationError as error:
        raise ScenarioError(f"scenario synthetic: {describe_error(error, SyntheticSpec)}") from None


# --- places and states -------------------------------------------------------


def nearest_centre(location: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of B centres (f[B, 2]) for each point (f[N, 2]): i32[N]."""
    rows = max(1, 2**22 // len(centres))  # bounds the N x B distance block
    nearest = np.empty(len(location), np.int32)
    for start in range(0, len(location), rows):  # blocks of states, not states
        block = location[start : start + rows, None, :] - centres[None, :, :]
        nearest[start : start + rows] = np.einsum("nbd,nbd->nb", block, block).argmin(axis=1)
    return nearest


def _states(
    rng: np.random.Generator, weight: np.ndarray, bloc: np.ndarray, n_issues: int, n_blocs: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-state columns [N] (position, salience [N, K]) but oil supply and trade, and the oil exporters (bool[N])."""
    n = len(weight)
    gdp = weight * rng.lognormal(0.0, GDP_SPREAD, n)
    gdp *= WORLD_GDP / gdp.sum()
    centre = rng.uniform(0.2, 0.8, (n_blocs, n_issues))
    position = np.clip(centre[bloc] + rng.normal(0.0, POSITION_NOISE, (n, n_issues)), 0.0, 1.0)
    exporter, demand = _oil_demand(rng, gdp)
    states = {
        "gdp": gdp,
        "military_share": rng.uniform(0.01, 0.05, n),
        "approval": rng.uniform(0.3, 0.7, n),
        "reliability": rng.beta(5.0, 2.0, n),
        "position": position.astype(np.float32),
        "salience": rng.random((n, n_issues), np.float32),
        "energy_demand": demand,
        "bloc": bloc,
    }
    return states, exporter


def _oil_demand(rng: np.random.Generator, gdp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A tenth of states export oil (bool[N]); the others import in proportion to gdp (mb/d, f64[N])."""
    n = len(gdp)
    exporter = np.zeros(n, bool)
    exporter[rng.choice(n, max(1, round(EXPORTER_SHARE * n)), replace=False)] = True
    demand = np.where(exporter, 0.0, rng.lognormal(0.0, 0.5, n) * gdp)
    return exporter, demand * (OIL_TRADE / demand.sum())


def oil_supply(exporter: np.ndarray, demand: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Each exporter's supply, so that the step-0 market clears along the dyads: mb/d, f64[N].

    Oil moves only on dyads, and a buyer j spreads its demand D_j over its
    sellers in proportion to their supply C_i.  Supplies solving
    C_i = sum_{j buys from i} D_j C_i / sum_{i' sells to j} C_i'
    are found by multiplicative (EM) updates from an equal split of each
    buyer's demand, until no seller's orders exceed its supply by more than
    ``SUPPLY_TOLERANCE``; scaled by ``SUPPLY_MARGIN`` (total supply = 1.05 x
    total demand), every seller then keeps a cushion.
    """
    n = len(demand)
    sells = exporter[src] & (demand[dst] > 0)  # dyads exporter -> importer
    seller, buyer = src[sells], dst[sells]
    supply = np.bincount(seller, weights=demand[buyer] / np.bincount(buyer, minlength=n)[buyer], minlength=n)
    if supply.sum() == 0:  # no exporter trades with an importer: share supply equally
        supply = exporter.astype(np.float64)
    for _ in range(SUPPLY_ROUNDS):  # rounds over all dyads at once; a few dozen at most
        offered = np.bincount(buyer, weights=supply[seller], minlength=n)
        orders = np.bincount(seller, weights=demand[buyer] * supply[seller] / offered[buyer], minlength=n)
        if np.all(orders <= supply * (1.0 + SUPPLY_TOLERANCE)):
            break
        supply = np.where(orders > 0, orders, supply)
    return supply * (SUPPLY_MARGIN * demand.sum() / supply.sum())


# --- the schedule ------------------------------------------------------------


def _schedule(states: dict[str, np.ndarray], exporter: np.ndarray) -> dict[str, np.ndarray]:
    """The event rows (in step order) around the two largest states a and b."""
    bloc = states["bloc"]
    ranked = np.argsort(-states["gdp"], kind="stable")
    a, b = int(ranked[0]), int(ranked[1])
    others = ranked[2:64]  # the largest states beyond a and b: enough to choose from
    excluded = others[np.isin(bloc[others], [bloc[a], bloc[b]])][:3]
    rival = _first(others[bloc[others] != bloc[a]], b)  # a sanctions a rival
    ally = _first(others[bloc[others] == bloc[a]], a)  # b threatens an ally of a
    seller = _first(ranked[exporter[ranked] & (ranked != a)], b)  # the largest exporting economy
    return {
        "top": np.array([a, b]),
        "excluded": excluded.astype(np.int32),
        "step": np.array([1, 2, 4, 6]),
        "kind": np.array(
            [EVENT_KINDS.index(k) for k in ("sanction", "summit", "military_signal", "secondary_sanction")]
        ),
        "actor": np.array([a, a, b, a]),
        "target": np.array([rival, b, ally, seller]),
        "magnitude": np.array([0.6, 1.0, 0.8, 0.5]),
    }


def _first(candidates: np.ndarray, fallback: int) -> int:
    return int(candidates[0]) if len(candidates) else fallback


def _required(
    schedule: dict, rng: np.random.Generator, weight: np.ndarray, exporter: np.ndarray, dyads_per_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs that must be dyads: the events' and exclusions', and one partner per state.

    The partner per state (drawn by weight) keeps every state trading with
    someone, and an importer's partner is an oil exporter, so every importer
    can buy oil.  It is skipped below 2 dyads per state, where it would
    overshoot the number of dyads.
    """
    a, b = schedule["top"]
    excluded = schedule["excluded"]
    first = [schedule["actor"], excluded, excluded]
    second = [schedule["target"], np.full(len(excluded), a), np.full(len(excluded), b)]
    if dyads_per_state >= 2:
        exporters = np.flatnonzero(exporter)
        importers = np.flatnonzero(~exporter)
        first += [exporters, importers]
        second += [
            _draw_states(rng, np.cumsum(weight), len(exporters)),
            exporters[_draw_states(rng, np.cumsum(weight[exporters]), len(importers))],
        ]
    return np.concatenate(first).astype(np.int64), np.concatenate(second).astype(np.int64)


# --- the graph ---------------------------------------------------------------


def scale_free_edges(
    rng: np.random.Generator, weight: np.ndarray, n_edges: int, required: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """``n_edges`` distinct undirected edges as keys ``u * N + v`` (u < v), i64[~n_edges].

    Each edge's chance is proportional to ``weight[u] * weight[v]``; the
    ``required`` pairs (self-pairs dropped) are always among them.  Small
    worlds sample exactly (weighted sampling without replacement); large ones
    draw endpoint pairs by weight and top up after dropping self-loops and
    duplicates.
    """
    n = len(weight)
    keys = distinct(pair_keys(*required, n))
    n_edges = min(max(n_edges, len(keys)), n * (n - 1) // 2)
    if n * (n - 1) // 2 <= max(EXACT_PAIRS, 8 * n_edges):
        return _exact_edges(rng, weight, n_edges, keys)
    return _top_up(rng, np.cumsum(weight), n_edges, keys)


def pair_keys(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """Keys ``min * N + max`` of the undirected pairs, self-pairs dropped: i64."""
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    keep = first != second
    low, high = np.minimum(first, second)[keep], np.maximum(first, second)[keep]
    return low * n + high


def _exact_edges(rng: np.random.Generator, weight: np.ndarray, n_edges: int, keys: np.ndarray) -> np.ndarray:
    """Weighted sampling without replacement over all pairs (Efraimidis-Spirakis)."""
    n = len(weight)
    low, high = np.triu_indices(n, 1)
    all_keys = low.astype(np.int64) * n + high
    score = np.log(rng.random(len(all_keys))) / (weight[low] * weight[high])
    score[np.searchsorted(all_keys, keys)] = np.inf  # required pairs first
    chosen = np.argpartition(-score, n_edges - 1)[:n_edges] if n_edges < len(all_keys) else slice(None)
    return np.sort(all_keys[chosen])


def _top_up(rng: np.random.Generator, cumulative: np.ndarray, n_edges: int, keys: np.ndarray) -> np.ndarray:
    """Add edges drawn by weight to the distinct ``keys`` until there are ``n_edges``.

    Each round draws enough pairs to cover the shortfall after the losses
    (self-loops, duplicates) of the round before; any surplus of new edges is
    dropped at random, so no pair is favoured.  Returns sorted keys.
    """
    n = len(cumulative)
    keys = distinct(keys)
    loss = 0.1
    for _ in range(TOP_UP_ROUNDS):  # rounds, each vectorised; a handful suffice
        shortfall = n_edges - len(keys)
        if shortfall <= 0:
            break
        drawn = int(shortfall / (1.0 - loss) * 1.05) + 16
        new = distinct(pair_keys(*_draw_pairs(rng, cumulative, drawn), n))
        new = new[~_contains(keys, new)]
        loss = min(0.9, 1.0 - len(new) / drawn)
        if len(new) > shortfall:
            new = np.delete(new, rng.choice(len(new), len(new) - shortfall, replace=False))
        keys = np.sort(np.concatenate([keys, new]), kind="stable")  # merges two sorted runs
    return keys


def distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique by sorting: much faster on 10^7 int64 keys)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def _contains(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_keys``: bool, like np.isin but for sorted keys."""
    if not len(sorted_keys):
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[at] == values


def _draw_states(rng: np.random.Generator, cumulative: np.ndarray, size: int, *, in_order: bool = False) -> np.ndarray:
    """``size`` states drawn with probability proportional to weight: i64.

    The uniforms are sorted so that the binary searches walk memory in order
    (twice as fast); the draws are then shuffled unless ``in_order``.
    """
    drawn = np.searchsorted(cumulative, np.sort(rng.random(size)) * cumulative[-1], side="right")
    drawn = np.minimum(drawn, len(cumulative) - 1)
    return drawn if in_order else drawn[rng.permutation(size)]


def _draw_pairs(rng: np.random.Generator, cumulative: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` independent pairs of states drawn by weight.

    Pairing a sorted sample with a shuffled one is a random matching of two
    i.i.d. samples: the same law as i.i.d. pairs.
    """
    return _draw_states(rng, cumulative, size, in_order=True), _draw_states(rng, cumulative, size)


# --- dyads -------------------------------------------------------------------


def _dyads(
    rng: np.random.Generator, edges: np.ndarray, n: int, states: dict, location: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Both directions of every edge, sorted by (dst, src), with their ties.

    Returns the dyad columns [E = 2 x edges] and the sorted keys
    ``dst * N + src`` (i64[E]) for looking dyads up.
    """
    low, high = (edges // n).astype(np.int32), (edges % n).astype(np.int32)
    m = len(edges)
    src = np.concatenate([low, high])
    dst = np.concatenate([high, low])
    keys = dst.astype(np.int64) * n + src
    order = np.argsort(keys, kind="stable")  # the order of np.lexsort((src, dst)), 2.5x faster
    keys = keys[order]
    edge = np.where(order < m, order, order - m)  # undirected edge of each sorted dyad
    inverse = np.empty(2 * m, np.int32)
    inverse[order] = np.arange(2 * m, dtype=np.int32)
    reverse = inverse[np.where(order < m, order + m, order - m)]
    del inverse
    src, dst = src[order], dst[order]
    same_bloc = states["bloc"][low] == states["bloc"][high]
    potential = _trade_potential(rng, states["gdp"], location, low, high, edge)
    n_dyads = 2 * m
    dyads = {
        "src": src,
        "dst": dst,
        "reverse": reverse,
        "alliance": np.where(same_bloc, ALLIANCE_WITHIN, ALLIANCE_ACROSS).astype(np.float32)[edge],
        "trade_potential": potential,
        "trade": potential.copy(),
        "energy_flow": np.zeros(n_dyads, np.float32),
        "tension": np.where(same_bloc, TENSION_WITHIN, TENSION_ACROSS).astype(np.float32)[edge],
        "trust_alpha": np.full(n_dyads, TRUST_PRIOR, np.float32),
        "trust_beta": np.full(n_dyads, TRUST_PRIOR, np.float32),
        "sanction": np.zeros(n_dyads, np.float32),
        "secondary_sanction": np.zeros(n_dyads, np.float32),
        "conflict": np.zeros(n_dyads, np.float32),
        "channel": np.ones(n_dyads, np.float32),
    }
    return dyads, keys


def _trade_potential(rng: np.random.Generator, gdp: np.ndarray, location: np.ndarray, low, high, edge) -> np.ndarray:
    """Gravity exports of each sorted dyad, gdp_i gdp_j / distance times a lognormal factor: f32[E], USD bn/yr.

    ``low, high``: the states of each undirected edge; ``edge``: the edge of
    each dyad.  Scaled so that world exports are ``TRADE_SHARE`` of world gdp.
    """
    distance = np.maximum(np.hypot(*(location[low] - location[high]).T), NEAREST)
    gravity = (gdp[low] * gdp[high] / distance).astype(np.float32)
    potential = gravity[edge] * rng.lognormal(0.0, TRADE_NOISE, len(edge)).astype(np.float32)
    potential *= np.float32(TRADE_SHARE * gdp.sum() / potential.sum(dtype=np.float64))
    return potential


def find_dyads(sorted_keys: np.ndarray, n: int, src, dst) -> np.ndarray:
    """Indices of the dyads src->dst (all present) in a world with ``sorted_keys``: i32."""
    wanted = np.asarray(dst, np.int64) * n + np.asarray(src, np.int64)
    return np.searchsorted(sorted_keys, wanted).astype(np.int32)


def _events(schedule: dict, sorted_keys: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Event rows [V] and the summit's memberships [P]."""
    summit = int(np.flatnonzero(schedule["kind"] == EVENT_KINDS.index("summit"))[0])
    excluded = schedule["excluded"]
    n_members = 2 + len(excluded)
    return {
        "step": schedule["step"],
        "kind": schedule["kind"],
        "actor": schedule["actor"],
        "target": schedule["target"],
        "dyad": find_dyads(sorted_keys, n, schedule["actor"], schedule["target"]),
        "issue": np.zeros(len(schedule["step"]), np.int32),
        "magnitude": schedule["magnitude"],
        "member_event": np.full(n_members, summit, np.int32),
        "member_state": np.concatenate([schedule["top"], excluded]).astype(np.int32),
        "member_role": np.repeat(np.array([0, 1], np.int32), [2, len(excluded)]),  # participant, excluded
    }


def _envoys(rng: np.random.Generator, n_envoys: int, dyads: dict, watched: int) -> dict[str, np.ndarray]:
    """Envoys [M]: the first two on the watched pair (official one way, proxy back), the rest on random dyads."""
    dyad = rng.integers(0, len(dyads["src"]), n_envoys).astype(np.int32)
    dyad[:2] = [watched, dyads["reverse"][watched]][: min(2, n_envoys)]
    proxy = rng.random(n_envoys) < PROXY_SHARE
    proxy[:2] = [False, True][: min(2, n_envoys)]
    credibility = np.where(proxy, rng.uniform(0.2, 0.6, n_envoys), rng.uniform(0.5, 0.9, n_envoys))
    return {
        "principal": dyads["src"][dyad],
        "counterpart": dyads["dst"][dyad],
        "dyad": dyad,
        "channel": np.where(proxy, CHANNELS.index("proxy"), CHANNELS.index("official")).astype(np.int32),
        "credibility": credibility,
        "active": np.ones(n_envoys, bool),
    }
