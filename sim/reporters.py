"""Model-level reporters: plain functions of a model, recorded once per month.

Only aggregates are recorded (no per-agent rows unless asked), so recording costs little at any
scale. Proficiency counts come from the month's department tally (`institutions.tally`).
Counts of people are real staff at every scale: program counts come from the program's real
ledger, and counts of simulated staff are weighted by the real staff each post stands for
(`model.real_per_post`, 1 at full scale).
"""

from __future__ import annotations

import numpy as np

from sim.organisation import DOMAINS


def service_index(model) -> float:
    """City service index: department quality weighted by service weight, in [0, 1]."""
    w = model.service_weight
    return float(w @ model.departments.quality / w.sum())


def domain_weights(model) -> tuple[list[str], np.ndarray]:
    """Domains present and the (domains, D) matrix of normalised service weights."""
    w, dom = model.service_weight, model.domain_of_department
    names = [name for k, name in enumerate(DOMAINS) if (dom == k).any()]
    mat = np.array([np.where(dom == DOMAINS.index(name), w, 0.0) for name in names])
    return names, mat / mat.sum(axis=1, keepdims=True)


def domain_indices(model) -> dict[str, float]:
    """Service index per domain present in the organisation, in [0, 1]."""
    names, mat = model.domain_weight_matrix
    return dict(zip(names, (mat @ model.departments.quality).tolist(), strict=True))


def adoption_shares(model) -> np.ndarray:
    """float (P,): share of the city's real staff proficient in each practice, in [0, 1]
    (each department's simulated share weighted by its real headcount)."""
    real = model.proficient_count * model.real_per_post[:, None]
    return real.sum(axis=0) / model.real_staff


def institutionalised_counts(model) -> np.ndarray:
    """int (P,): departments in which each practice is standard procedure."""
    return model.departments.sop.sum(axis=0)


def mean_proficiency(model) -> float:
    return float(model.proficiency_total.sum() / model.state.proficiency.size)


def staff_abroad(model) -> int:
    """Real staff who spent this month in Tokyo (counted before those finishing return home)."""
    return int(model.real_abroad)


def simulated_abroad(model) -> int:
    """Simulated staff who spent this month in Tokyo (equals staff_abroad at full scale)."""
    return int(model.departments.absent.sum())


def expert_trainees(model) -> int:
    """Real staff in training with visiting Tokyo experts this month."""
    return int(model.real_trainees)


def department_implementation(model) -> np.ndarray:
    """float (D,): relevance-weighted mean implementation of all practices, in [0, 1]."""
    return (model.relevance_share * model.departments.implementation).sum(axis=1)


def department_proficient_share(model) -> np.ndarray:
    """float (D,): share of (staff, practice) pairs proficient, relevance-weighted, in [0, 1]."""
    share = model.proficient_count / model.headcount[:, None]
    return (model.relevance_share * share).sum(axis=1)


#: Cumulative totals the model keeps (`model.totals`) and records every month: real staff
#: sent, real staff-months in Tokyo, expert-visits, cost (IDR million), exits and rotations (real
#: staff; estimates at scale < 1, so not whole numbers there) and cohort places left empty.
TOTALS = (
    "departures",
    "staff_months_abroad",
    "expert_visits",
    "cost",
    "exits",
    "rotations",
    "cohort_shortfall",
)
#: Columns of the city table that are whole numbers at every scale.
INTEGER_COLUMNS = (
    "staff",
    "simulated_staff",
    "staff_abroad",
    "simulated_abroad",
    "expert_trainees",
    "departures",
    "staff_months_abroad",
    "expert_visits",
    "cohort_shortfall",
)


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
                "staff",
                "simulated_staff",
                "staff_abroad",
                "simulated_abroad",
                "expert_trainees",
                *TOTALS,
            )
        }
        self.adoption = np.zeros((rows, len(self.practices)))
        self.sop = np.zeros((rows, len(self.practices)), dtype=np.int64)
        n_dep = model.organisation.n_departments
        self.department_ids = list(model.organisation.department_ids)
        self.department_domains = list(model.organisation.departments["domain"])
        self.dept_quality = np.zeros((rows, n_dep))
        self.dept_implementation = np.zeros((rows, n_dep))
        self.dept_proficient = np.zeros((rows, n_dep))

    def record(self, model) -> None:
        t = model.month
        sc = self.scalars
        sc["service_index"][t] = service_index(model)
        for name, v in domain_indices(model).items():
            sc[f"index_{name}"][t] = v
        sc["mean_proficiency"][t] = mean_proficiency(model)
        sc["staff"][t] = model.real_staff
        sc["simulated_staff"][t] = model.n_staff
        sc["staff_abroad"][t] = staff_abroad(model)
        sc["simulated_abroad"][t] = simulated_abroad(model)
        sc["expert_trainees"][t] = expert_trainees(model)
        for name, v in model.totals.items():
            sc[name][t] = v
        self.adoption[t] = adoption_shares(model)
        self.sop[t] = institutionalised_counts(model)
        self.dept_quality[t] = model.departments.quality
        self.dept_implementation[t] = department_implementation(model)
        self.dept_proficient[t] = department_proficient_share(model)

    def frame(self, upto: int):
        import pandas as pd

        cols = {"month": np.arange(upto + 1)}
        cols.update({k: v[: upto + 1] for k, v in self.scalars.items()})
        for k, pid in enumerate(self.practices):
            cols[f"adoption_{pid}"] = self.adoption[: upto + 1, k]
        for k, pid in enumerate(self.practices):
            cols[f"sop_{pid}"] = self.sop[: upto + 1, k]
        df = pd.DataFrame(cols)
        for k in INTEGER_COLUMNS:
            df[k] = df[k].astype(np.int64)
        return df

    def department_frame(self, upto: int):
        """Long table: month, department, domain, quality, implementation, proficient_share."""
        import pandas as pd

        months = np.arange(upto + 1)
        n_dep = len(self.department_ids)
        return pd.DataFrame(
            {
                "month": np.repeat(months, n_dep),
                "department": np.tile(self.department_ids, months.size),
                "domain": np.tile(self.department_domains, months.size),
                "quality": self.dept_quality[: upto + 1].ravel(),
                "implementation": self.dept_implementation[: upto + 1].ravel(),
                "proficient_share": self.dept_proficient[: upto + 1].ravel(),
            }
        )


def staff_snapshot(model) -> dict:
    """Every staff member's state now (for opt-in per-agent records)."""
    s, org = model.state, model.organisation
    row = {
        "month": np.full(model.n_staff, model.month),
        "post": np.arange(model.n_staff),
        "department": np.asarray(org.department_ids)[org.dept],
        "rank": org.rank.copy(),
        "tenure": s.tenure.copy(),
        "capacity": model.effective_capacity(),
        "willingness": s.willingness.copy(),
        "abroad": s.abroad.copy(),
        "exchanges": s.exchanges.copy(),
    }
    for k, pid in enumerate(model.catalogue.ids):
        row[f"proficiency_{pid}"] = s.proficiency[:, k].copy()
    return row
