"""Hydra's ``run_job`` for a job whose simulation is done, at a fraction of its cost.

``hydra.core.utils.run_job`` copies the job's whole config (``copy.deepcopy``) and writes its
records with PyYAML's pure-Python emitter.  With the Alaska scenario's 1,500 nodes in the config
that is about 0.2 s a job on a 2-core CPU, far more than the job's share of a batched simulation.
``run_job_sharing`` does what ``run_job`` does, in the same order (Hydra's config of the job
set, the output directory, the job's log, ``.hydra/config.yaml``, ``hydra.yaml`` and
``overrides.yaml``, ``env_set``, the callbacks, the task, Hydra's config restored), with two
differences that change nothing written:

- the task's config shares the sections that the job's config shares with its template
  (``_templates.shared_sections``) instead of copying them, and Hydra's config of the job is the
  job's own ``hydra`` section (``_templates.set_hydra_config``), not a copy of it;
- the records are written by ``to_yaml``: OmegaConf's own representation, emitted by libyaml,
  each section of the config separately, and a shared section's text kept for the next job.
  The text is OmegaConf.to_yaml's, byte for byte (tests/sweeps/test_records.py).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
from omegaconf._utils import OmegaConfDumper, get_omega_conf_dumper

from ._templates import is_shared, once_per_section, set_hydra_config, shared_in

_Base = getattr(yaml, "CDumper", None)


if _Base is not None:

    class _FastDumper(_Base):  # libyaml's emitter, OmegaConf's quoting of strings that read as other types
        pass

    _FastDumper.add_representer(str, OmegaConfDumper.str_representer)


_section_text: dict[int, tuple[Any, str]] = {}  # id(shared node) -> (the node, kept alive; its YAML)


# characters both emitters write alike; a string with any other (NEL, characters beyond the Basic
# Multilingual Plane, which libyaml escapes and PyYAML does not) is written by OmegaConf's own dumper
_COMMON = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]")


def _dump(data: Any) -> str:
    dumper = get_omega_conf_dumper() if _unusual(data) else _FastDumper
    return yaml.dump(data, default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=dumper)


def _unusual(data: Any) -> bool:
    if isinstance(data, str):
        return _COMMON.search(data) is not None
    if isinstance(data, dict):
        return any(_unusual(k) or _unusual(v) for k, v in data.items())
    if isinstance(data, list | tuple):
        return any(_unusual(v) for v in data)
    return False


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=False, enum_to_str=True)
    value = node._value()
    return value.name if isinstance(value, Enum) else value


def to_yaml(cfg: DictConfig | ListConfig) -> str:
    """``OmegaConf.to_yaml(cfg)``, the same text, faster (see the module's docstring)."""
    if _Base is None or cfg._is_none() or cfg._is_missing() or len(cfg) == 0:
        return OmegaConf.to_yaml(cfg)
    if isinstance(cfg, ListConfig):  # overrides.yaml
        return _dump(_plain(cfg))
    parts, keys = [], []
    for key in cfg.keys():
        node = cfg._get_node(key)
        if key == "hydra" and isinstance(node, DictConfig) and len(node) and not (node._is_none() or node._is_missing()):
            # Hydra's config (hydra.yaml) is the job's own; of its sections, those shared with the
            # template keep their text (a mapping's entries are written one by one, each indented
            # as it stands: the text of a section at the same depth is the same)
            parts += [_entries(cfg, keys, ()), f"{key}:\n", _entries(node, node.keys(), (key,))]
            keys = []
        else:
            keys.append(key)
    return "".join(parts) + _entries(cfg, keys, ())


def _entries(mapping: DictConfig, keys, parents: tuple[str, ...]) -> str:
    """The YAML of ``mapping``'s entries ``keys`` as they stand below the keys ``parents``: a
    shared entry's text kept, the others written together (libyaml's set-up costs more than a
    short entry)."""
    parts: list[str] = []
    pending: dict[Any, Any] = {}

    def flush() -> None:
        if pending:
            parts.append(_text(dict(pending), parents))
            pending.clear()

    for key in keys:
        node = mapping._get_node(key)
        if is_shared(mapping, node):
            flush()
            parts.append(once_per_section(_section_text, node, lambda node, key=key: _text({key: _plain(node)}, parents)))
        else:
            pending[key] = _plain(node)
    flush()
    return "".join(parts)


def _text(entries: dict, parents: tuple[str, ...]) -> str:
    """The YAML of ``entries`` as they stand below the keys ``parents``, indented as there."""
    data: Any = entries
    for parent in reversed(parents):
        data = {parent: data}
    text = _dump(data)
    return text.split("\n", len(parents))[-1] if parents else text


def _save(cfg: DictConfig | ListConfig, filename: str, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / filename, "w", encoding="utf-8") as file:
        file.write(to_yaml(cfg))


def run_job_sharing(hydra_context, task_function, config: DictConfig,
                    around_task: Callable[[DictConfig], AbstractContextManager] = lambda task_cfg: nullcontext(),
                    output_dir: str | None = None) -> JobReturn:
    """``run_job(hydra_context, task_function, config, "hydra.sweep.dir", "hydra.sweep.subdir")``,
    its task config sharing the sections ``config`` shares with its template; the task runs inside
    ``around_task(task_cfg)``.  ``output_dir``: the job's directory, if already worked out (with
    Hydra's config of the job set, as here) by the caller."""
    callbacks = hydra_context.callbacks
    old_cwd = os.getcwd()
    orig_hydra_cfg = HydraConfig.instance().cfg
    set_hydra_config(config)  # the job's own section, not a copy: it sees the output directory set below
    if output_dir is None:
        output_dir = os.path.join(str(OmegaConf.select(config, "hydra.sweep.dir")), str(OmegaConf.select(config, "hydra.sweep.subdir")))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    chdir = None
    try:
        ret = JobReturn()
        # the hydra section is deleted from the copy at once: shared too, never copied
        task_cfg = copy.deepcopy(config, {**shared_in(config, skip=("hydra",)), id(config._get_node("hydra")): config._get_node("hydra")})
        with read_write(task_cfg), open_dict(task_cfg):
            del task_cfg["hydra"]
        ret.cfg = task_cfg
        # run_job copies Hydra's config of the job; here it is the job's own section, which nothing else writes
        hydra_cfg = HydraConfig.instance().cfg
        ret.hydra_cfg = hydra_cfg
        ret.overrides = OmegaConf.to_container(config.hydra.overrides.task)
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = bool(hydra_cfg.hydra.job.chdir)  # None means False from version_base 1.2 (diplosim's 1.3)
        if chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            records = Path(config.hydra.runtime.output_dir) / Path(config.hydra.output_subdir)
            _save(task_cfg, "config.yaml", records)
            _save(hydra_cfg, "hydra.yaml", records)
            _save(config.hydra.overrides.task, "overrides.yaml", records)
        with env_override(hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                with around_task(task_cfg):
                    ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:  # noqa: BLE001 - as run_job: the failure is the job's return
                ret.return_value = e
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        HydraConfig.instance().cfg = orig_hydra_cfg
        if chdir:
            os.chdir(old_cwd)
