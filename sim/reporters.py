"""Model-level reporters: plain functions of a model, recorded once per month.

Only aggregates are recorded (no per-agent rows), so recording costs the same at any scale.
"""

from __future__ import annotations

import numpy as np

from sim.organisation import DOMAINS


def service_index(model) -> float:
    """City service index: department quality weighted by service weight, in [0, 1]."""
    w = model.service_weight
    return float(w @ model.departments.quality / w.sum())


def domain_indices(model) -> dict[str, float]:
    """Service index per domain present in the organisation, in [0, 1]."""
    w, q, dom = model.service_weight, model.departments.quality, model.domain_of_department
    out = {}
    for k, name in enumerate(DOMAINS):
        mask = dom == k
        if mask.any():
            out[name] = float(w[mask] @ q[mask] / w[mask].sum())
    return out


def adoption_shares(model) -> np.ndarray:
    """float (P,): share of all staff proficient in each practice."""
    prof = model.state.proficiency >= model.config.behavior.proficiency_threshold
    return prof.mean(axis=0)


def institutionalised_counts(model) -> np.ndarray:
    """int (P,): departments in which each practice is standard procedure."""
    return model.departments.sop.sum(axis=0)


def mean_proficiency(model) -> float:
    return float(model.state.proficiency.mean())


def staff_abroad(model) -> int:
    """Staff who spent this month in Tokyo (counted before those finishing return home)."""
    return int(model.departments.absent.sum())


def expert_trainees(model) -> int:
    return int((model.state.expert_months_left > 0).sum())


class Recorder:
    """Preallocated monthly table of the reporters above, months 0..horizon."""

    def __init__(self, model) -> None:
        rows = model.config.horizon + 1
        self.domains = list(domain_indices(model))
        self.practices = list(model.catalogue.ids)
        self.scalars = {
            name: np.zeros(rows)
            for name in (
                "service_index",
                *[f"index_{d}" for d in self.domains],
                "mean_proficiency",
                "staff_abroad",
                "expert_trainees",
                "departures",
                "staff_months_abroad",
                "expert_visits",
                "cost",
                "exits",
                "rotations",
                "cohort_shortfall",
            )
        }
        self.adoption = np.zeros((rows, len(self.practices)))
        self.sop = np.zeros((rows, len(self.practices)), dtype=np.int64)

    def record(self, model) -> None:
        t = model.month
        sc = self.scalars
        sc["service_index"][t] = service_index(model)
        for name, v in domain_indices(model).items():
            sc[f"index_{name}"][t] = v
        sc["mean_proficiency"][t] = mean_proficiency(model)
        sc["staff_abroad"][t] = staff_abroad(model)
        sc["expert_trainees"][t] = expert_trainees(model)
        for name, v in model.totals.items():
            sc[name][t] = v
        self.adoption[t] = adoption_shares(model)
        self.sop[t] = institutionalised_counts(model)

    def frame(self, upto: int):
        import pandas as pd

        cols = {"month": np.arange(upto + 1)}
        cols.update({k: v[: upto + 1] for k, v in self.scalars.items()})
        for k, pid in enumerate(self.practices):
            cols[f"adoption_{pid}"] = self.adoption[: upto + 1, k]
        for k, pid in enumerate(self.practices):
            cols[f"sop_{pid}"] = self.sop[: upto + 1, k]
        df = pd.DataFrame(cols)
        for k in (
            "staff_abroad",
            "expert_trainees",
            "departures",
            "staff_months_abroad",
            "expert_visits",
            "exits",
            "rotations",
            "cohort_shortfall",
        ):
            df[k] = df[k].astype(np.int64)
        return df
