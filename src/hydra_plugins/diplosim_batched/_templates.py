"""Composing a sweep's job configs from a template: Hydra's answer, without composing each one again.

Hydra composes every job's config from scratch, twice (the sweeper checks that each job composes,
then the launcher composes it to run it): with the Alaska scenario in the config that is about a
second per job on a 2-core CPU, far longer than the job's share of a batched simulation.

Jobs of a sweep differ only in their overrides.  Hydra composes a job's config from the
defaults list its structural overrides select (group choices such as ``scenario=synthetic``,
``+key``, ``~key``), then applies each plain ``key=value`` (``seed=3``,
``dynamics.trade_relax=0.2``) with ``OmegaConf.update(cfg, key, value, merge=True)``.  So a
job whose structural overrides are an earlier job's, and whose plain overrides set the same
keys, has that job's config with the values updated and Hydra's record of the job's overrides
(``hydra.overrides.task``, ``hydra.job.override_dirname``) rewritten.  ``TemplateConfigLoader``
does exactly that.  The first job of each kind is composed by Hydra and kept as the template;
the second is composed both ways and the two compared, and if they differ in anything the short
cut is dropped for that kind (its jobs are composed by Hydra).

The batched launcher installs it in the Hydra context it shares with the sweeper, so both the
sweeper's check and the launcher use it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf, flag_override, open_dict, read_write

log = logging.getLogger(__name__)


class TemplateConfigLoader(ConfigLoader):
    """Hydra's config loader with a short cut for sweep jobs (see the module's docstring)."""

    def __init__(self, loader: ConfigLoader) -> None:
        self.loader = loader
        self.templates: dict[tuple, DictConfig] = {}
        self.checked: dict[tuple, bool] = {}  # keys -> the short cut gave Hydra's config
        self.shared: dict[tuple, dict[int, Any]] = {}  # keys -> the template's sections its jobs share
        self.validated: dict[tuple[str, ...], tuple[DictConfig, DictConfig]] = {}  # overrides -> (master, config)
        self.groups: dict[str, bool] = {}
        self.parser = OverridesParser.create()
        self.parsed: dict[str, Any] = {}  # override text -> Hydra's parse of it (jobs of a sweep repeat values)

    # --- the short cut ---------------------------------------------------------------------------

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        split = self._split(sweep_overrides)
        if split is None:
            return self.loader.load_sweep_config(master_config, sweep_overrides)
        parsed, structural, values = split
        # Hydra's own overrides (hydra/launcher=batched, ...) are the master's, the same for every job
        keys = (str(master_config.hydra.job.config_name), tuple(master_config.hydra.overrides.hydra),
                structural, tuple(o.key_or_group for o in values))
        if keys not in self.templates:
            config = self.loader.load_sweep_config(master_config, sweep_overrides)
            self.templates[keys] = copy.deepcopy(config)
            return config
        if self.checked.get(keys) is False:
            return self.loader.load_sweep_config(master_config, sweep_overrides)
        if keys not in self.shared:
            self.shared[keys] = shared_sections(self.templates[keys], [o.key_or_group for o in values])
        derived = self._derive(self.templates[keys], parsed, values, master_config, dict(self.shared[keys]))
        if keys not in self.checked:
            composed = self.loader.load_sweep_config(master_config, sweep_overrides)
            same = OmegaConf.to_container(derived, resolve=False) == OmegaConf.to_container(composed, resolve=False)
            self.checked[keys] = same
            if not same:
                log.warning(f"composing each job's config in full: the template short cut gave another config than Hydra "
                            f"for the overrides of {', '.join(keys[3])}")
            return composed
        self.validated[tuple(sweep_overrides)] = (master_config, derived)
        return derived

    def job_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        """The job's config for the launcher: the one the sweeper's check derived, if there is one
        (the sweeper composes each job to check it, then the launcher composes it again)."""
        master, config = self.validated.pop(tuple(sweep_overrides), (None, None))
        return config if master is master_config else self.load_sweep_config(master_config, sweep_overrides)

    def _split(self, sweep_overrides: list[str]) -> tuple[list, tuple[str, ...], list] | None:
        """(every override parsed, the structural ones as typed, the plain ``key=value`` ones); None
        if one cannot be parsed.  Structural: group choices, ``+``, ``++``, ``~``, packages: they
        shape the composition, so jobs share a template only if theirs are the same."""
        try:
            parsed = [self._parse(text) for text in sweep_overrides]
        except Exception:  # noqa: BLE001 - Hydra reports it, in its words
            return None
        structural, values = [], []
        for override in parsed:
            key = override.key_or_group
            if override.is_sweep_override() or key.startswith("hydra"):
                return None
            if (override.is_add() or override.is_force_add() or override.is_delete() or override.package is not None
                    or self._is_group(key)):
                structural.append(override.input_line)
            else:
                values.append(override)
        return parsed, tuple(structural), values

    def _parse(self, text: str):
        """Hydra's parse of one override, parsed once (an ``Override`` is only read: its key, its value)."""
        if text not in self.parsed:
            (self.parsed[text],) = self.parser.parse_overrides([text])
        return self.parsed[text]

    def _is_group(self, key: str) -> bool:
        if key not in self.groups:
            self.groups[key] = bool(self.loader.get_group_options(key))
        return self.groups[key]

    @staticmethod
    def _derive(template: DictConfig, parsed: list, values: list, master_config: DictConfig, memo: dict) -> DictConfig:
        """The template with the job's values applied as Hydra applies them, and Hydra's record of
        its overrides; ``memo``: the sections it shares with the template (``shared_sections``)."""
        from hydra._internal.config_loader_impl import get_overrides_dirname

        config = copy.deepcopy(template, memo)
        for override in values:
            OmegaConf.update(config, override.key_or_group, override.value(), merge=True)
        job = config.hydra.job
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.task = [o.input_line for o in parsed]
            job.override_dirname = get_overrides_dirname(
                overrides=parsed, kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep, exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=master_config, to_config=config)
        return config

    # --- the rest is Hydra's ---------------------------------------------------------------------

    def load_configuration(self, *args: Any, **kwargs: Any) -> DictConfig:
        return self.loader.load_configuration(*args, **kwargs)

    def get_search_path(self):
        return self.loader.get_search_path()

    def get_sources(self):
        return self.loader.get_sources()

    def list_groups(self, parent_name: str):
        return self.loader.list_groups(parent_name)

    def get_group_options(self, *args: Any, **kwargs: Any):
        return self.loader.get_group_options(*args, **kwargs)

    def compute_defaults_list(self, *args: Any, **kwargs: Any):
        return self.loader.compute_defaults_list(*args, **kwargs)


# Hydra's sections of a job's config that are written for each job (its id, its overrides, its
# output directory): only the containers below them that nothing writes are shared, and nothing
# below ``overrides`` (``overrides.task`` is set in place).
PER_JOB_HYDRA = ("job", "runtime", "overrides")


def shared_sections(config: DictConfig, keys: list[str]) -> dict[int, Any]:
    """A ``copy.deepcopy`` memo of the nodes of ``config`` that its jobs can share: a copy made
    with it shares those nodes instead of copying them.

    Shared: every node (section or value) that no override in ``keys`` touches (neither on the
    path to an overridden key nor below it) and that holds no interpolation, taken as high up
    as possible; below ``hydra``, only the sections Hydra does not write for each job
    (``PER_JOB_HYDRA``: of those, only the containers that nothing writes).

    Copying the Alaska scenario's 1,500 nodes, and Hydra's own config (its help texts, logging,
    launcher and sweeper), is most of the cost of a job's config; the shared nodes are only read
    (by the job's task and to write its records), never written: a value is set in place
    (``OmegaConf.update``), so an overridden value is always the job's own.  A node with an
    interpolation is copied, since it would resolve against the config it was made in.
    """
    paths = [tuple(key.split(".")) for key in keys]
    memo: dict[int, Any] = {}

    def touched(path: tuple) -> str:
        """"on": an override's key is at or below ``path``; "below": ``path`` is below an override's key."""
        if any(path[:len(p)] == p for p in paths if len(p) < len(path)):
            return "below"
        return "on" if any(p[:len(path)] == path for p in paths) else ""

    def visit(container: Any, path: tuple, leaves: bool) -> None:
        for key in _keys(container):
            node = container._get_node(key)
            where = path + (str(key),)
            state = touched(where)
            if state == "below" or where[:2] == ("hydra", "overrides"):
                continue
            is_container = isinstance(node, DictConfig | ListConfig)
            per_job = len(where) == 2 and where[0] == "hydra" and where[1] in PER_JOB_HYDRA  # never shared itself
            if not state and not per_job and not _interpolates(node) and (is_container or leaves):
                memo[id(node)] = node
            elif is_container and not node._is_none() and not node._is_interpolation():
                visit(node, where, leaves and not per_job)

    for key in config.keys():
        node = config._get_node(key)
        if isinstance(node, DictConfig | ListConfig) and not node._is_none() and not node._is_interpolation():
            if touched((str(key),)) or _interpolates(node) or key == "hydra":
                visit(node, (str(key),), leaves=True)  # (PER_JOB_HYDRA names sections below hydra only)
            else:
                memo[id(node)] = node
    return memo


def _keys(container: Any):
    return container.keys() if isinstance(container, DictConfig) else range(len(container))


def set_hydra_config(cfg: DictConfig) -> None:
    """``HydraConfig.instance().set_config(cfg)`` without copying ``cfg.hydra``.

    ``set_config`` stores a copy of the job's ``hydra`` section (``OmegaConf.masked_copy``),
    re-attached to ``cfg`` so that interpolations into the rest of the config resolve: 10 ms a
    call with Hydra's help texts and logging configs in it, and a job calls it three times.  Here
    the config Hydra holds is a container whose ``hydra`` is the job's own section (still
    attached to ``cfg``), read-only as ``set_config`` makes it.  Nothing writes through it.
    """
    OmegaConf.set_readonly(cfg.hydra, True)
    section = cfg._get_node("hydra")
    view = OmegaConf.create({})
    with flag_override(view, "no_deepcopy_set_nodes", True):
        view.hydra = section  # attached to view, not copied ...
    section._set_parent(cfg)  # ... and back to the job's config, as set_config does with its copy
    HydraConfig.instance().cfg = view


def is_shared(config: DictConfig, section: Any) -> bool:
    """Whether ``section``, a top-level node of ``config``, is one it shares with its template
    (``shared_sections``): a shared node keeps the template as its parent."""
    return isinstance(section, DictConfig | ListConfig) and section._get_parent() is not config


def shared_in(config: DictConfig, skip: tuple[str, ...] = ()) -> dict[int, Any]:
    """The nodes ``config`` shares with its template (a shared node keeps its place in the
    template as its parent), as a ``copy.deepcopy`` memo: a copy of ``config`` made with it
    shares them too.  ``skip``: top-level keys not looked into."""
    memo: dict[int, Any] = {}

    def visit(container: Any, skip: tuple[str, ...] = ()) -> None:
        for key in _keys(container):
            node = container._get_node(key)
            if node._get_parent() is not container:
                memo[id(node)] = node
            elif key not in skip and isinstance(node, DictConfig | ListConfig) and not node._is_none() and not node._is_interpolation():
                visit(node)

    visit(config, skip)
    return memo


def once_per_section(cache: dict[int, tuple[Any, Any]], section: Any, compute) -> Any:
    """``compute(section)``, computed once per shared section (shared sections are never written);
    ``cache`` holds each section with its value, so that its id is not reused."""
    held = cache.get(id(section))
    if held is None or held[0] is not section:
        held = cache[id(section)] = (section, compute(section))
    return held[1]


def _interpolates(node: Any) -> bool:
    if isinstance(node, DictConfig):
        return node._is_interpolation() or any(_interpolates(node._get_node(k)) for k in node.keys())
    if isinstance(node, ListConfig):
        return node._is_interpolation() or any(_interpolates(node._get_node(i)) for i in range(len(node)))
    return node._is_interpolation()


def install(hydra_context) -> None:
    """Use a ``TemplateConfigLoader`` in ``hydra_context`` (shared by the sweeper and the launcher)."""
    if not isinstance(hydra_context.config_loader, TemplateConfigLoader):
        hydra_context.config_loader = TemplateConfigLoader(hydra_context.config_loader)
