"""Hydra callback: aggregate a multirun when it ends."""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class AggregateOnMultirunEnd(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from experiments.aggregate import aggregate, print_ranking

        sweep_dir = Path(config.hydra.sweep.dir)
        report = aggregate(sweep_dir, figures=bool(config.get("report", True)))
        if (sweep_dir / "aggregate" / "scenarios.parquet").exists():
            print_ranking(sweep_dir)
        if report is not None:
            print(f"report: {report}")
