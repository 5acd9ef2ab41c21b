"""The explorer's runs: designs A and B on several seeds, each beside its no-exchange run
and its channel runs (`sim.pairing`), stepped month by month; `ExplorerModel` and
`MODEL_PARAMS`: the one-seed form for Mesa's SolaraViz.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from experiments.explorer.controls import (
    DEFAULT_SCALE,
    DEFAULT_SEED,
    DEFAULT_SEEDS,
    HORIZON,
    LEVER_LABELS,
    PROGRAM,
    SCALES,
    behaviour_of,
    lever_choices,
    lever_range,
    parse_seed,
)
from experiments.jobs.job import one_thread
from experiments.present.figures import department_graph
from experiments.study.outcomes import POINTS
from experiments.study.posterior import with_behaviour
from sim import ExchangeModel, ModelConfig, build_city
from sim.config import with_settings
from sim.model import fresh_seed
from sim.pairing import COUNTERFACTUALS, counterfactual, decompose, no_exchange
from sim.resources import ResourceError, available_bytes, estimate, size


class Exploration:
    """Designs run on `seeds` consecutive seeds, each beside the no-exchange run of the same seed
    and city, all stepped a month at a time together. Seed k (the first seed + k) takes draw k
    of the posterior, as a sweep's replicate k does; with `channels`, each design also runs
    with colleagues' and standard procedures' channels off (`sim.pairing.COUNTERFACTUALS`) to
    split its gain. Counts are real Jakarta staff and costs IDR million at every scale."""

    def __init__(
        self,
        designs: dict[str, dict],
        scale: float = DEFAULT_SCALE,
        seed: int | str | None = DEFAULT_SEED,
        seeds: int = DEFAULT_SEEDS,
        behaviour: str = "posterior",
        by_hand: dict[str, float] | None = None,
        channels: bool = True,
        horizon: int = HORIZON,
    ) -> None:
        first, self.note = parse_seed(seed)
        self.first_seed = fresh_seed() if first is None else first
        self.seeds = [self.first_seed + k for k in range(int(seeds))]
        self.behaviour, self.channels = behaviour, channels
        base = with_settings(ModelConfig(), {"scale": float(scale), "horizon": int(horizon)})
        self.designs = {name: dict(levers) for name, levers in designs.items()}
        self.configs = {n: with_settings(base, v) for n, v in self.designs.items()}
        variants = ("design", *COUNTERFACTUALS) if channels else ("design",)
        self.baselines: list[ExchangeModel] = []
        self.runs: dict[str, list[dict[str, ExchangeModel]]] = {n: [] for n in self.designs}
        for k, s in enumerate(self.seeds):
            drawn = behaviour_of(behaviour, k, by_hand or {})
            first_config = with_behaviour(next(iter(self.configs.values())), drawn)
            city = build_city(first_config, s)
            if k == 0:
                check_memory(first_config, city, len(self.seeds), 1 + len(designs) * len(variants))
            self.baselines.append(ExchangeModel(no_exchange(first_config), seed=s, city=city))
            for name, config in self.configs.items():
                config = with_behaviour(config, drawn)
                self.runs[name].append(
                    {
                        v: ExchangeModel(
                            config if v == "design" else counterfactual(config, v),
                            seed=s,
                            city=city,
                        )
                        for v in variants
                    }
                )
        self.structure = self.baselines[0].structure
        first = self.baselines[0]
        self.layout = network_layout(first.department_ties(), first.organisation.department_ids)
        self._shown = 0  # the month the page shows; the runs may be one month ahead (`prepare`)

    @property
    def models(self) -> list[ExchangeModel]:
        return self.baselines + [m for runs in self.runs.values() for r in runs for m in r.values()]

    @property
    def month(self) -> int:
        """The month shown: every curve, table and plot ends here."""
        return self._shown

    @property
    def computed(self) -> int:
        """The month the runs have reached: the month shown, or one more (`prepare`)."""
        return self.baselines[0].month

    @property
    def horizon(self) -> int:
        return self.baselines[0].config.horizon

    @property
    def running(self) -> bool:
        return self.month < self.horizon

    def step(self) -> None:
        """Show one month more: the month `prepare` ran ahead, else a month of every run now (a
        finished exploration refuses, as a model does)."""
        if self.computed == self._shown:
            self._advance()
        self._shown += 1

    def prepare(self) -> None:
        """Run every run's next month ahead of the page (while the user looks at this one), so
        that the next Step only shows it; what is shown does not change. Nothing at the
        horizon or when the next month is already run."""
        if self.computed == self._shown < self.horizon:
            with one_thread():  # the other core draws the page
                self._advance()

    def _advance(self) -> None:
        for model in self.models:
            model.step()

    def release(self) -> None:
        """Let Python free the runs (Mesa 3.3.1 keeps every model alive otherwise)."""
        for model in self.models:
            model.release()

    def curve(self, name: str, column: str, variant: str = "design") -> np.ndarray:
        """float (seeds, months so far + 1): a city column of design `name` ("none": the
        no-exchange runs), one row per seed."""
        models = self.baselines if name == "none" else [r[variant] for r in self.runs[name]]
        return np.array([m.recorder.scalars[column][: self.month + 1] for m in models])

    def gain(self, name: str) -> np.ndarray:
        """(seeds, months): design `name`'s service index minus its no-exchange run's (points)."""
        base = self.curve("none", "service_index")
        return (self.curve(name, "service_index") - base) * POINTS

    def channels_of(self, name: str) -> dict[str, np.ndarray]:
        """`sim.pairing.CHANNELS` -> (seeds, months) part of the gain (points); they add up to
        `gain`. Empty without `channels`."""
        if not self.channels:
            return {}
        index = {v: self.curve(name, "service_index", v) for v in ("design", *COUNTERFACTUALS)}
        parts = decompose(
            index.pop("design"), **index, baseline=self.curve("none", "service_index")
        )
        return {k: v * POINTS for k, v in parts.items()}

    def table(self) -> pd.DataFrame:
        """What the page shows, month by month for each design and seed: the service index with
        and without the exchange, the gain and its parts (points), staff sent, staff-months in
        Tokyo, expert visits and the cost so far (IDR billion): Download CSV's rows."""
        frames = []
        months = np.arange(self.month + 1)
        for name in self.designs:
            cols = {
                "service_index": self.curve(name, "service_index"),
                "no_exchange_index": self.curve("none", "service_index"),
                "gain_points": self.gain(name),
                **{f"{k}_points": v for k, v in self.channels_of(name).items()},
                "staff_sent": self.curve(name, "departures"),
                "staff_months_in_tokyo": self.curve(name, "staff_months_abroad"),
                "expert_visits": self.curve(name, "expert_visits"),
                "cost_idr_billion": self.curve(name, "cost") / 1000,
            }
            for k, seed in enumerate(self.seeds):
                frame = pd.DataFrame({"design": name, "seed": seed, "draw": k, "month": months})
                if self.behaviour != "posterior":
                    frame["draw"] = pd.NA
                for column, values in cols.items():
                    frame[column] = values[k]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def check_memory(config: ModelConfig, city, seeds: int, runs_per_seed: int) -> None:
    """Refuse (one ResourceError line) runs that would not fit the memory available now."""
    need = estimate(config, city.structure.n_staff, city.structure.catalogue.n)
    total = seeds * (runs_per_seed * need.run_bytes + need.city_bytes)
    available = available_bytes()
    if total > available:
        raise ResourceError(
            f"{seeds} seeds x {runs_per_seed} runs at scale {config.scenario.scale:g} need about "
            f"{size(total)} of memory and this machine has {size(available)} available: fewer "
            "seeds, one design, the gain not split by channel, or a smaller scale"
        )


def network_layout(ties: pd.DataFrame, ids: list[str]) -> tuple[nx.Graph, dict]:
    """Departments as nodes, cross-department ties as weighted edges, and fixed positions."""
    graph = department_graph(ties, ids)
    return graph, nx.spring_layout(graph, seed=20251128, weight="weight")


class ExplorerModel(ExchangeModel):
    """One seed of one design beside its no-exchange run (`self.baseline`, same seed and city),
    its levers as keywords: the form Mesa's SolaraViz rebuilds on Reset as
    `ExplorerModel(**MODEL_PARAMS values)`. Named parameters (not `**levers`): SolaraViz checks
    every control against the signature."""

    def __init__(
        self,
        cohort_size: int = PROGRAM.cohort_size,
        months_between_cohorts: int = PROGRAM.months_between_cohorts,
        duration: int = PROGRAM.duration,
        selection: str = PROGRAM.selection,
        experts_per_visit: int = PROGRAM.experts_per_visit,
        months_between_expert_visits: int = PROGRAM.months_between_expert_visits,
        scale: float = DEFAULT_SCALE,
        horizon: int = HORIZON,
        seed: int | str | None = DEFAULT_SEED,
    ) -> None:
        seed_value, self.note = parse_seed(seed)
        levers = {
            "cohort_size": int(cohort_size),
            "months_between_cohorts": int(months_between_cohorts),
            "duration": int(duration),
            "selection": str(selection),
            "experts_per_visit": int(experts_per_visit),
            "months_between_expert_visits": int(months_between_expert_visits),
            "scale": float(scale),
            "horizon": int(horizon),
        }
        super().__init__(seed=seed_value, **levers)
        city = build_city(self.config, self.seed)
        self.baseline = ExchangeModel(no_exchange(self.config), seed=self.seed, city=city)

    def step(self) -> None:
        """A month of the design and of its no-exchange twin (a finished run refuses)."""
        super().step()
        self.baseline.step()


def lever_param(name: str) -> dict:
    """A lever as Mesa's model_params declare a control."""
    if name == "selection":
        return {
            "type": "Select",
            "value": PROGRAM.selection,
            "values": lever_choices(name),
            "label": LEVER_LABELS[name],
        }
    low, high, step = lever_range(name)
    return {
        "type": "SliderInt",
        "value": getattr(PROGRAM, name),
        "min": low,
        "max": high,
        "step": step,
        "label": LEVER_LABELS[name],
    }


#: ExplorerModel's controls in Mesa's form, for `SolaraViz(ExplorerModel(), model_params=...)`.
MODEL_PARAMS = {
    **{name: lever_param(name) for name in LEVER_LABELS},
    "scale": {
        "type": "Select",
        "value": DEFAULT_SCALE,
        "values": SCALES,
        "label": "Scale (share of the 60,000 staff simulated)",
    },
    "seed": {
        "type": "InputText",
        "value": DEFAULT_SEED,
        "label": "Seed (empty: a new one at each Reset)",
    },
    "horizon": HORIZON,
}


def default_parameters() -> dict:
    """The values MODEL_PARAMS's controls start with (and the fixed parameters)."""
    return {k: v["value"] if isinstance(v, dict) else v for k, v in MODEL_PARAMS.items()}
