"""Loading a scenario from the Hydra ``scenario`` config group or a YAML file.

Every mistake ends in one ``ScenarioError`` line:
``scenario <file or name>: <field path>: <what is wrong> (got <value>)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from pydantic import BaseModel, ValidationError

from diplosim.memory import check_synthetic
from diplosim.scenario import Scenario, ScenarioError
from diplosim.scenario.build import build_world
from diplosim.scenario.schema import ScenarioSpec, SyntheticSpec, describe_error
from diplosim.scenario.synthetic import synthetic_scenario

KINDS = ("file", "synthetic")
SYNTHETIC_KEYS = ("n_states", "dyads_per_state", "n_blocs", "n_issues", "n_envoys", "generator_seed")
SHARED_KEYS = ("kind", "name", "description")
HYDRA_KEYS = ("defaults",)  # consumed by Hydra when it composes a file from conf/


def load_scenario(cfg: Mapping[str, Any], *, agreement_slots: int = 16, device: Any = None) -> Scenario:
    """The scenario described by ``cfg``, shaped like ``diplosim.config.ScenarioConfig``.

    ``cfg`` is an OmegaConf ``DictConfig`` or a plain mapping.  When
    ``cfg["path"]`` is set, that YAML file replaces every other field.
    Raises ``ScenarioError`` (one line) on any mistake.  With ``device`` (a
    ``jax.Device``), a synthetic world too large to generate here or to run
    there is refused before it is generated (``diplosim.memory.MemoryTooLarge``).
    """
    fields = _plain(cfg)
    if fields.get("path"):
        return load_scenario_file(fields["path"], agreement_slots=agreement_slots, device=device)
    fields.pop("path", None)
    label = fields.get("name") or fields.get("kind") or "file"
    return _load(fields, f"config:{label}", f"scenario {label}", agreement_slots, device)


def load_scenario_file(path: str | Path, *, agreement_slots: int = 16, device: Any = None) -> Scenario:
    """The scenario in the YAML file ``path`` (``kind: file`` or ``kind: synthetic``); ``device``: see ``load_scenario``."""
    fields = read_yaml(path)
    for key in HYDRA_KEYS + ("path",):
        fields.pop(key, None)
    return _load(fields, str(path), f"scenario {path}", agreement_slots, device)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or ``ScenarioError`` naming the file."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"scenario {path}: cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise ScenarioError(f"scenario {path}: not UTF-8 text (byte {error.start}: {error.reason}); allowed: a UTF-8 YAML file") from None
    try:
        fields = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScenarioError(f"scenario {path}: malformed YAML{_yaml_place(error)}") from None
    if not isinstance(fields, dict):
        raise ScenarioError(
            f"scenario {path}: expected a mapping of fields (kind, name, states, ...) at the top level, got {type(fields).__name__}"
        )
    return fields


def _yaml_place(error: yaml.YAMLError) -> str:
    """`` at line L, column C: <problem>`` where PyYAML knows it."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or ""
    place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{place}: {problem}" if problem else place


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of ``cfg``, resolving an OmegaConf config."""
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)


def _load(fields: dict[str, Any], source: str, where: str, agreement_slots: int, device: Any = None) -> Scenario:
    """Validate ``fields`` by kind and build; ``where`` starts every message."""
    kind = fields.get("kind", "file")
    if kind == "file":
        fields = {k: v for k, v in fields.items() if k not in SYNTHETIC_KEYS}
        spec = _validate(ScenarioSpec, fields, where)
        return build_world(spec, agreement_slots=agreement_slots, source=source)
    if kind == "synthetic":
        spec = _validate(SyntheticSpec, _synthetic_fields(fields, where), where)
        if device is not None:
            check_synthetic(spec, device, agreement_slots=agreement_slots)
        return _synthetic(spec, agreement_slots)
    raise ScenarioError(f"{where}: kind: unknown scenario kind {kind!r}; allowed: {', '.join(KINDS)}")


def _synthetic_fields(fields: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields a synthetic spec reads; a ``file`` field given a value is a mistake.

    Empty ``file`` fields are dropped: Hydra fills them with the schema's defaults.
    """
    for key, value in fields.items():
        if key in ScenarioSpec.model_fields and key not in SHARED_KEYS and value not in (None, "", [], {}):
            raise ScenarioError(
                f"{where}: {key}: a synthetic scenario generates its world; only kind file scenarios list {key}"
            )
    return {k: v for k, v in fields.items() if k not in ScenarioSpec.model_fields or k in SHARED_KEYS}


def _validate(model: type[BaseModel], fields: dict[str, Any], where: str):
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise ScenarioError(f"{where}: {describe_error(error, model)}") from None


def _synthetic(spec: SyntheticSpec, agreement_slots: int) -> Scenario:
    scenario = synthetic_scenario(
        spec.n_states,
        spec.dyads_per_state,
        spec.n_blocs,
        spec.n_issues,
        spec.n_envoys,
        spec.generator_seed,
        agreement_slots=agreement_slots,
    )
    return dataclasses.replace(scenario, name=spec.name, description=spec.description or scenario.description)
