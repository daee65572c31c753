"""The ``diplosim`` command: a Hydra app (``diplosim key=value ...``, ``diplosim -m ...`` for sweeps)."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from diplosim.config import register_configs

register_configs()

USER_ERRORS = (ValueError, FileNotFoundError)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def app(cfg: DictConfig) -> None:
    from diplosim.app import run, summary

    logging.getLogger("jax").setLevel(logging.WARNING)  # not the missing-TPU notice on every run

    out_dir = HydraConfig.get().runtime.output_dir
    try:
        result = run(cfg, out_dir)
    except USER_ERRORS as err:
        print(f"diplosim: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(summary(result))


SUBCOMMANDS = {"bargain": "diplosim.bargain_cli"}


def main() -> None:
    """``diplosim [hydra overrides]`` runs a scenario; ``diplosim bargain ...`` runs the bargaining model alone."""
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        import importlib

        command = importlib.import_module(SUBCOMMANDS[sys.argv[1]])
        sys.exit(command.main(sys.argv[2:]))
    app()


if __name__ == "__main__":
    main()
