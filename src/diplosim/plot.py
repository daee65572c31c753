"""Plots of a run's headline metrics (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pyarrow as pa  # noqa: E402

from diplosim.io import atomic_write  # noqa: E402

PANELS = (
    ("Bloc cohesion", "cohesion_", "mean alliance weight inside the bloc"),
    ("Watched relations", "_relation", "trust - tension"),
    ("Energy price", "energy_price", "USD/bbl"),
    ("Armed conflict", "conflict_total", "sum of intensities"),
    ("Polarisation", "polarisation", "tension across - within blocs"),
    ("Domestic approval", "approval_mean", "mean over states"),
)


def _columns(table: pa.Table, pattern: str) -> list[str]:
    if pattern.endswith("_"):
        return [c for c in table.column_names if c.startswith(pattern)]
    if pattern.startswith("_"):
        return [c for c in table.column_names if c.endswith(pattern)]
    return [pattern] if pattern in table.column_names else []


def plot_metrics(metrics: pa.Table, path: Path, title: str = "") -> Path:
    """Save a 2 x 3 grid of the headline metrics over time as a PNG."""
    step = metrics.column("step").to_numpy()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), sharex=True, constrained_layout=True)
    for ax, (name, pattern, unit) in zip(axes.ravel(), PANELS):
        for column in _columns(metrics, pattern):
            label = column.removeprefix("cohesion_").removesuffix("_relation")
            ax.plot(step, metrics.column(column).to_numpy(), label=label)
        ax.set_title(name)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        if len(_columns(metrics, pattern)) > 1:
            ax.legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("step (weeks)")
    if title:
        fig.suptitle(title)
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return Path(path)
