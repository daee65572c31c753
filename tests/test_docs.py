"""docs/MODEL.md (the ODD protocol) stays in step with the code.

Each test reads declarations from the code (``Params``, the world records'
``spec`` metadata, ``Mechanisms``, ``engine._pipeline``) and checks that the
document describes them: adding a coefficient, a state variable, a switch or
a mechanism without documenting it makes a test fail and say what is missing.
Nothing here compiles JAX code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from diplosim import engine
from diplosim.mechanisms.metrics import ENDOGENOUS_EVENTS
from diplosim.params import Mechanisms, Params
from diplosim.world import (
    AGREEMENT_KINDS,
    AGREEMENT_STATUS,
    EVENT_KINDS,
    Agreements,
    Dyads,
    Envoys,
    Events,
    States,
    World,
    describe,
)

MODEL_MD = Path(__file__).resolve().parents[1] / "docs" / "MODEL.md"

# ODD sections, by number: the heading of each must start with "## <n>. <title>"
SECTIONS = {
    1: "Purpose and patterns",
    2: "Entities, state variables and scales",
    3: "Process overview and scheduling",
    4: "Design concepts",
    5: "Initialisation",
    6: "Input data",
    7: "Submodels",
    8: "Parameters",
    9: "Known simplifications and open points",
}
PIPELINE_START, PIPELINE_END = "<!-- pipeline:start -->", "<!-- pipeline:end -->"


@pytest.fixture(scope="module")
def text() -> str:
    assert MODEL_MD.is_file(), f"{MODEL_MD} is missing: the model's ODD description lives there"
    return MODEL_MD.read_text(encoding="utf-8")


def section(text: str, number: int) -> str:
    """The body of ``## <number>. ...`` up to the next level-2 heading."""
    heading = re.compile(rf"^## {number}\.\s+(.*)$", re.MULTILINE)
    found = heading.search(text)
    assert found, f"docs/MODEL.md has no section '## {number}. {SECTIONS[number]}'"
    rest = text[found.end() :]
    following = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def subsection(body: str, marker: str) -> str:
    """The body of the first ``###`` heading containing ``marker``, up to the next ``##``/``###`` heading."""
    heading = re.compile(rf"^### .*{re.escape(marker)}.*$", re.MULTILINE)
    found = heading.search(body)
    assert found, f"docs/MODEL.md section 2 has no '### ...{marker}...' subsection"
    rest = body[found.end() :]
    following = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def table_rows(body: str) -> list[list[str]]:
    """Markdown table rows of ``body`` as lists of stripped cells (separator rows skipped)."""
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", cell) for cell in cells if cell):
            continue
        rows.append(cells)
    return rows


def rows_by_name(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    """Rows keyed by a backticked name in their first cell."""
    named: dict[str, list[list[str]]] = {}
    for cells in rows:
        match = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0])
        if match:
            named.setdefault(match.group(1), []).append(cells)
    return named


def range_text(bounds: tuple) -> str:
    """A declared (lo, hi) range as the document writes it: [0, 1], [0, ∞), (−∞, ∞)."""
    lo, hi = bounds
    left = "(−∞" if lo is None else f"[{lo:g}"
    right = "∞)" if hi is None else f"{hi:g}]"
    return f"{left}, {right}"


def test_sections_present_in_order(text):
    positions = []
    for number, title in SECTIONS.items():
        found = re.search(rf"^## {number}\.\s+{re.escape(title)}", text, re.MULTILINE)
        assert found, f"docs/MODEL.md lacks the ODD section heading '## {number}. {title}'"
        positions.append(found.start())
    assert positions == sorted(positions), "the ODD sections of docs/MODEL.md are out of order"


def test_every_param_in_the_parameter_table(text):
    rows = rows_by_name(table_rows(section(text, 8)))
    fields = dataclasses.fields(Params)
    missing = [f.name for f in fields if f.name not in rows]
    assert not missing, (
        f"Params field(s) {missing} are not documented in the parameter table of docs/MODEL.md section 8 "
        "(add a row: | `name` | default | unit | range | meaning | reason for the default |)"
    )
    repeated = [name for name, found in rows.items() if len(found) > 1]
    assert not repeated, f"parameter(s) {repeated} have more than one row in the parameter table"
    unknown = sorted(set(rows) - {f.name for f in fields})
    assert not unknown, f"the parameter table documents {unknown}, which are not fields of Params"
    for f in fields:
        cells = rows[f.name][0]
        assert len(cells) >= 6, f"the row of `{f.name}` needs 6 columns: name, default, unit, range, meaning, reason"
        default, unit, bounds, meaning, reason = (cell.strip("`") for cell in cells[1:6])
        assert default == repr(f.default), (
            f"`{f.name}`: the parameter table gives default {default!r}, the code {f.default!r}"
        )
        assert unit == f.metadata["unit"], f"`{f.name}`: the table gives unit {unit!r}, the code {f.metadata['unit']!r}"
        assert bounds == range_text(f.metadata["range"]), (
            f"`{f.name}`: the table gives range {bounds!r}, the code {range_text(f.metadata['range'])!r}"
        )
        assert meaning, f"`{f.name}`: the meaning column is empty"
        assert reason, f"`{f.name}`: the reason-for-the-default column is empty"


def test_parameter_table_is_one_table(text):
    body = section(text, 8)
    blocks = re.findall(r"(?:^\|.*\n?)+", body, re.MULTILINE)
    with_params = [
        b for b in blocks if rows_by_name(table_rows(b)).keys() & {f.name for f in dataclasses.fields(Params)}
    ]
    assert len(with_params) == 1, f"section 8 should hold ONE parameter table, found {len(with_params)}"


@pytest.mark.parametrize(
    "cls, marker",
    [
        (States, "`States`"),
        (Envoys, "`Envoys`"),
        (Dyads, "`Dyads`"),
        (Agreements, "`Agreements`"),
        (Events, "`Events`"),
        (World, "`World`"),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_every_world_field_in_the_entities_section(text, cls, marker):
    body = subsection(section(text, 2), marker)
    rows = rows_by_name(table_rows(body))
    declared = describe(cls)
    missing = [name for name, *_ in declared if name not in rows]
    assert not missing, (
        f"{cls.__name__} field(s) {missing} are not in the {cls.__name__} table of docs/MODEL.md section 2 "
        "(regenerate the row from describe(): | `name` | unit | range | meaning | written by |)"
    )
    unknown = sorted(set(rows) - {name for name, *_ in declared})
    assert not unknown, f"the {cls.__name__} table of section 2 lists {unknown}, which are not fields of {cls.__name__}"
    for name, _doc, unit, bounds in declared:
        cells = rows[name][0]
        assert len(cells) >= 4, f"{cls.__name__}.{name}: the row needs name, unit, range and meaning"
        assert cells[1] == unit, f"{cls.__name__}.{name}: section 2 gives unit {cells[1]!r}, the code {unit!r}"
        assert cells[2] == range_text(bounds), (
            f"{cls.__name__}.{name}: section 2 gives range {cells[2]!r}, the code {range_text(bounds)!r}"
        )


def test_every_switch_in_the_submodels_section(text):
    body = section(text, 7)
    missing = [f.name for f in dataclasses.fields(Mechanisms) if f"`engine.mechanisms.{f.name}=false`" not in body]
    assert not missing, (
        f"mechanism switch(es) {missing} are not documented in docs/MODEL.md section 7 "
        "(write `engine.mechanisms.<name>=false` in the mechanism's subsection)"
    )


def pipeline_list(text: str) -> list[tuple[int, str, int]]:
    """``(number, mechanism, key stream)`` of each item of the process-order list of section 3."""
    body = section(text, 3)
    assert PIPELINE_START in body and PIPELINE_END in body, (
        f"section 3 of docs/MODEL.md must hold the process order between {PIPELINE_START} and {PIPELINE_END}"
    )
    block = body.split(PIPELINE_START, 1)[1].split(PIPELINE_END, 1)[0]
    items = []
    for line in block.splitlines():
        if not line.strip():
            continue
        match = re.match(r"^\s*(\d+)\.\s+`([a-z_]+)`\s+\(key stream (\d+)\)", line)
        assert match, (
            f"unreadable line in the process-order list of section 3: {line!r} (expected '1. `events` (key stream 1) — ...')"
        )
        items.append((int(match.group(1)), match.group(2), int(match.group(3))))
    return items


def test_process_order_matches_the_pipeline(text):
    items = pipeline_list(text)
    documented = [name for _, name, _ in items]
    pipeline = [name for name, _ in engine._pipeline(1)]
    assert [number for number, _, _ in items] == list(range(1, len(items) + 1)), (
        f"the process-order list of section 3 is not numbered 1..{len(items)}"
    )
    assert documented == pipeline, (
        f"docs/MODEL.md section 3 gives the process order {documented}; engine._pipeline runs {pipeline}"
    )
    streams = {name: stream for _, name, stream in items}
    wrong = {
        name: (streams[name], engine.KEY_STREAM[name]) for name in pipeline if streams[name] != engine.KEY_STREAM[name]
    }
    assert not wrong, f"key streams in section 3 differ from engine.KEY_STREAM (documented, code): {wrong}"


def test_pipeline_names_are_the_switches():
    """Section 3 names mechanisms by their switches: the pipeline must use exactly the Mechanisms names."""
    pipeline = {name for name, _ in engine._pipeline(1)}
    switches = {f.name for f in dataclasses.fields(Mechanisms)}
    assert pipeline == switches, (
        f"pipeline names without a switch: {sorted(pipeline - switches)}; switches without a mechanism: {sorted(switches - pipeline)}"
    )


def test_kinds_and_event_log_names_documented(text):
    names = EVENT_KINDS + AGREEMENT_KINDS + AGREEMENT_STATUS + ENDOGENOUS_EVENTS
    missing = [name for name in names if name not in text]
    assert not missing, (
        f"docs/MODEL.md does not mention {missing} (event kinds, agreement kinds or statuses, endogenous events)"
    )
