"""Typed, validated scenario specifications (the format of docs/scenarios.md).

``ScenarioSpec`` is a ``kind: file`` scenario, ``SyntheticSpec`` a
``kind: synthetic`` one.  Field checks (types, ranges, finite numbers,
unknown keys) are pydantic's; the cross-field checks (unique names, known
references, no self-ties, summit-only fields) are ``ScenarioSpec``'s model
validator, which raises ``SpecProblem`` naming the offending field.
``describe_error`` turns the first error of a ``ValidationError`` into the
one-line message users see.
"""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from diplosim.world import AGREEMENT_KINDS, CHANNELS, EVENT_KINDS

Name = Annotated[str, Field(min_length=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]

MAX_LISTED = 8  # names shown in a "known: ..." list before it is cut short
MAX_DYADS = 2**31 - 1  # dyad indices are int32



def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming what is allowed."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value

class SpecProblem(ValueError):
    """A cross-field mistake: ``where`` is a field path such as ``alliances[3].b``."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def listing(names, limit: int = MAX_LISTED) -> str:
    """Names joined by commas, cut after ``limit`` with a count of the rest."""
    names = list(names)
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return shown if rest <= 0 else f"{shown}, ... ({rest} more)"


class _Spec(BaseModel):
    """Common settings: unknown keys and NaN/inf are errors, specs are immutable."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# --- states ------------------------------------------------------------------


class StateSpec(_Spec):
    """One state.  Economy in USD bn/yr, oil in mb/d, shares in [0, 1]."""

    name: Name
    bloc: Name
    gdp: Positive
    military_share: Probability
    approval: Probability
    reliability: Probability
    energy_supply: NonNegative = 0.0
    energy_demand: NonNegative = 0.0
    position: dict[str, Probability] = Field(default_factory=dict)  # issue -> [0, 1]; missing: 0.5
    salience: dict[str, Probability] = Field(default_factory=dict)  # issue -> [0, 1]; missing: 0
    source: str | None = None


# --- ties: symmetric ones name states a and b, directed ones from and to -----


class _SymmetricTie(_Spec):
    a: Name
    b: Name
    source: str | None = None


class _DirectedTie(_Spec):
    model_config = ConfigDict(populate_by_name=True)

    from_: Name = Field(alias="from")
    to: Name
    source: str | None = None


class AllianceTie(_SymmetricTie):
    """Symmetric alliance weight in [0, 1]."""

    weight: Probability


class TradeTie(_DirectedTie):
    """Exports ``from`` -> ``to`` in USD bn/yr."""

    value: NonNegative


class TensionTie(_SymmetricTie):
    """Symmetric initial tension in [0, 1]."""

    value: Probability


class ConflictTie(_SymmetricTie):
    """Symmetric armed-conflict intensity in [0, 1]."""

    intensity: Probability


class SanctionTie(_DirectedTie):
    """Sanctions ``from`` imposes on ``to``, level in [0, 1]."""

    level: Probability


class ChannelTie(_SymmetricTie):
    """Symmetric diplomatic-channel level in [0, 1] (1: embassies open)."""

    level: Probability


class TrustTie(_DirectedTie):
    """``from``'s Beta counts about ``to``'s reliability (counts > 0)."""

    alpha: Positive
    beta: Positive


# --- envoys, events, watch ---------------------------------------------------


class EnvoySpec(_Spec):
    """An envoy of ``principal`` talking to ``counterpart``."""

    name: Name
    principal: Name
    counterpart: Name
    channel: str
    credibility: Probability
    source: str | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        return one_of(channel, CHANNELS, "channel")


class EventSpec(_Spec):
    """A scheduled shock at ``step`` (weeks from the start)."""

    name: Name | None = None
    step: int = Field(ge=0)
    kind: str
    actor: Name
    target: Name
    issue: Name | None = None
    magnitude: Probability = 1.0
    participants: list[Name] | None = None
    excluded: list[Name] | None = None
    source: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        return one_of(kind, EVENT_KINDS, "event kind")


class WatchSpec(_Spec):
    """A directed dyad reported every step under ``name``."""

    model_config = ConfigDict(populate_by_name=True)

    name: Name
    from_: Name = Field(alias="from")
    to: Name


# --- the scenario ------------------------------------------------------------


class ScenarioSpec(_Spec):
    """A hand-written (``kind: file``) scenario; see docs/scenarios.md."""

    kind: Literal["file"] = "file"
    name: Name
    description: str = ""
    start: str | None = None  # calendar date of step 0
    issues: list[Name] = Field(default_factory=list)
    blocs: list[Name] = Field(default_factory=list)
    energy_price: Positive | None = None  # USD/bbl
    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)
    states: list[StateSpec] = Field(default_factory=list)
    alliances: list[AllianceTie] = Field(default_factory=list)
    trade: list[TradeTie] = Field(default_factory=list)
    tension: list[TensionTie] = Field(default_factory=list)
    conflict: list[ConflictTie] = Field(default_factory=list)
    sanctions: list[SanctionTie] = Field(default_factory=list)
    channels: list[ChannelTie] = Field(default_factory=list)
    trust: list[TrustTie] = Field(default_factory=list)
    envoys: list[EnvoySpec] = Field(default_factory=list)
    events: list[EventSpec] = Field(default_factory=list)
    watch: list[WatchSpec] = Field(default_factory=list)
    issue_agreements: dict[Name, str] = Field(default_factory=dict)  # issue -> agreement a deal on it signs

    @field_validator("issue_agreements")
    @classmethod
    def _known_agreements(cls, mapping: dict[str, str]) -> dict[str, str]:
        for issue, kind in mapping.items():
            one_of(kind, AGREEMENT_KINDS, f"agreement kind for issue {issue!r}:")
        return mapping

    @field_validator("start", mode="before")
    @classmethod
    def _date_as_text(cls, start: Any) -> Any:
        # YAML reads an unquoted 2025-08-01 as a date
        return start.isoformat() if isinstance(start, datetime.date) else start

    @model_validator(mode="after")
    def _cross_checks(self) -> ScenarioSpec:
        check_references(self)
        return self


class SyntheticSpec(_Spec):
    """A generated (``kind: synthetic``) world; see diplosim.scenario.synthetic."""

    kind: Literal["synthetic"] = "synthetic"
    name: Name = "synthetic"
    description: str = ""
    n_states: int = Field(1000, ge=2, le=50_000_000)
    dyads_per_state: int = Field(10, ge=1)
    n_blocs: int = Field(3, ge=1)
    n_issues: int = Field(3, ge=1)
    n_envoys: int = Field(0, ge=0)
    generator_seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _fewer_partners_than_states(self) -> SyntheticSpec:
        if self.dyads_per_state >= self.n_states:
            raise SpecProblem(
                "dyads_per_state",
                f"must be below n_states = {self.n_states} (got {self.dyads_per_state})",
            )
        if self.n_states * self.dyads_per_state > MAX_DYADS:
            raise SpecProblem(
                "dyads_per_state",
                f"n_states x dyads_per_state must be at most {MAX_DYADS} (dyads are indexed with int32; "
                f"got {self.n_states} x {self.dyads_per_state})",
            )
        return self


# --- cross-field checks ------------------------------------------------------


class _Register:
    """Names of one kind (states, blocs, ...) with their first position."""

    def __init__(self, kind: str):
        self.kind = kind
        self.first: dict[str, str] = {}

    def add(self, where: str, name: str) -> None:
        if name in self.first:
            raise SpecProblem(where, f"duplicate {self.kind} name {name!r} (first at {self.first[name]})")
        self.first[name] = where

    def need(self, where: str, name: str) -> None:
        if name not in self.first:
            raise SpecProblem(where, f"unknown {self.kind} {name!r}; known: {listing(self.first)}")


def _register(kind: str, names, where) -> _Register:
    register = _Register(kind)
    for i, name in enumerate(names):
        register.add(where(i), name)
    return register


def check_references(spec: ScenarioSpec) -> None:
    """Raise ``SpecProblem`` at the first cross-field mistake of ``spec``."""
    if not spec.states:
        raise SpecProblem("states", "at least one state is needed")
    issues = _register("issue", spec.issues, lambda i: f"issues[{i}]")
    blocs = _register("bloc", spec.blocs, lambda i: f"blocs[{i}]")
    states = _register("state", [s.name for s in spec.states], lambda i: f"states[{i}].name")
    _check_states(spec, blocs, issues)
    _check_ties(spec, states)
    _check_envoys(spec, states)
    _check_events(spec, states, issues)
    _check_watch(spec, states)
    for issue in spec.issue_agreements:
        issues.need("issue_agreements", issue)


def _check_states(spec: ScenarioSpec, blocs: _Register, issues: _Register) -> None:
    for i, state in enumerate(spec.states):
        blocs.need(f"states[{i}].bloc", state.bloc)
        for table in ("position", "salience"):
            for issue in getattr(state, table):
                issues.need(f"states[{i}].{table}", issue)


SYMMETRIC_TIES = ("alliances", "tension", "conflict", "channels")
DIRECTED_TIES = ("trade", "sanctions", "trust")


def _check_ties(spec: ScenarioSpec, states: _Register) -> None:
    for table in SYMMETRIC_TIES + DIRECTED_TIES:
        symmetric = table in SYMMETRIC_TIES
        first_key, second_key = ("a", "b") if symmetric else ("from", "to")
        seen: dict[tuple[str, str], int] = {}
        for i, tie in enumerate(getattr(spec, table)):
            first, second = (tie.a, tie.b) if symmetric else (tie.from_, tie.to)
            _check_pair(f"{table}[{i}]", first_key, first, second_key, second, states)
            pair = tuple(sorted((first, second))) if symmetric else (first, second)
            if pair in seen:
                raise SpecProblem(
                    f"{table}[{i}]", f"pair {first!r} / {second!r} already given at {table}[{seen[pair]}]"
                )
            seen[pair] = i


def _check_pair(where: str, first_key: str, first: str, second_key: str, second: str, states: _Register) -> None:
    states.need(f"{where}.{first_key}", first)
    states.need(f"{where}.{second_key}", second)
    if first == second:
        raise SpecProblem(
            f"{where}.{second_key}", f"self-tie: {second_key} is the same state as {first_key} ({first!r})"
        )


def _check_envoys(spec: ScenarioSpec, states: _Register) -> None:
    names = _Register("envoy")
    for i, envoy in enumerate(spec.envoys):
        names.add(f"envoys[{i}].name", envoy.name)
        _check_pair(f"envoys[{i}]", "principal", envoy.principal, "counterpart", envoy.counterpart, states)


def _check_events(spec: ScenarioSpec, states: _Register, issues: _Register) -> None:
    names = _Register("event")
    for i, event in enumerate(spec.events):
        where = f"events[{i}]"
        if event.name is not None:
            names.add(f"{where}.name", event.name)
        _check_pair(where, "actor", event.actor, "target", event.target, states)
        if event.issue is not None:
            issues.need(f"{where}.issue", event.issue)
        elif event.kind == "summit":
            raise SpecProblem(
                f"{where}.issue", f"a summit needs the issue on the table; known: {listing(issues.first)}"
            )
        _check_members(where, event, states)


def _check_members(where: str, event: EventSpec, states: _Register) -> None:
    present: dict[str, str] = {}
    for role in ("participants", "excluded"):
        members = getattr(event, role)
        if members is None:
            continue
        if event.kind != "summit":
            raise SpecProblem(f"{where}.{role}", f"only summits have {role} (this event is a {event.kind})")
        for j, state in enumerate(members):
            states.need(f"{where}.{role}[{j}]", state)
            if state in present:
                raise SpecProblem(f"{where}.{role}[{j}]", f"{state!r} is already listed at {present[state]}")
            present[state] = f"{where}.{role}[{j}]"


def _check_watch(spec: ScenarioSpec, states: _Register) -> None:
    names = _Register("watch")
    for i, watch in enumerate(spec.watch):
        names.add(f"watch[{i}].name", watch.name)
        _check_pair(f"watch[{i}]", "from", watch.from_, "to", watch.to, states)


# --- one-line messages -------------------------------------------------------


def field_path(loc: tuple) -> str:
    """``('states', 3, 'gdp')`` -> ``states[3].gdp``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _shown(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def describe_error(error: ValidationError, model: type[BaseModel]) -> str:
    """One error of ``error`` as ``<field path>: <message> (got <value>)``.

    An unknown key is reported first (a misspelt key also makes a required
    one "missing"); otherwise pydantic's first error.  Adds ``(and N more
    errors)`` when there were several.
    """
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    problem = (first.get("ctx") or {}).get("error")
    where = field_path(first["loc"])
    if isinstance(problem, SpecProblem):
        text = str(problem)
    elif first["type"] == "extra_forbidden":
        text = f"{where}: {_unknown_key(model, first['loc'])}"
    elif first["type"] == "missing":
        text = f"{where}: required field is missing"
    elif first["type"] == "value_error":  # our validators' messages name the value
        text = f"{where}: {first['msg'].removeprefix('Value error, ')}"
    else:
        text = f"{where}: {first['msg']} (got {_shown(first['input'])})"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return text


def _unknown_key(model: type[BaseModel], loc: tuple) -> str:
    allowed = allowed_keys(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; allowed: {listing(allowed, limit=len(allowed))}"


def allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed in the mapping found at ``loc`` inside ``model``."""
    kind: Any = model
    for part in loc:
        kind = _inner(kind, part)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [f.alias or name for name, f in kind.model_fields.items()]
    return []


def _inner(kind: Any, part: Any) -> Any:
    """The type found one step (a key or a list index) inside ``kind``."""
    kind = _strip_optional(kind)
    if isinstance(part, int):
        args = typing.get_args(kind)
        return args[0] if args else Any
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        for name, field in kind.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
    return Any


def _strip_optional(kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return kind
