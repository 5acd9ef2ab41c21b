"""Model-level reporters: plain functions of the model's state parts, recorded once per month.

Only aggregates are recorded (no per-agent rows unless asked), so recording costs little at any
scale. Proficiency counts come from the month's department tally (`institutions.tally`).
Counts of people are real staff at every scale: program counts come from the program's real
ledger (`ProgramState`), and counts of simulated staff are weighted by the real staff each post
stands for (`Structure.real_per_post`, 1 at full scale).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.institutions import readiness
from sim.organisation import DOMAINS
from sim.state import TOTALS, DepartmentState, ProgramState, StaffState, Structure


def service_index(structure: Structure, departments: DepartmentState) -> float:
    """City service index: department quality weighted by service weight, in [0, 1]."""
    w = structure.service_weight
    return float(w @ departments.quality / w.sum())


def domain_weights(
    service_weight: np.ndarray, domain_of_department: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Domains present and the (domains, D) matrix of normalised service weights."""
    w, dom = service_weight, domain_of_department
    names = [name for k, name in enumerate(DOMAINS) if (dom == k).any()]
    mat = np.array([np.where(dom == DOMAINS.index(name), w, 0.0) for name in names])
    return names, mat / mat.sum(axis=1, keepdims=True)


def domain_indices(structure: Structure, departments: DepartmentState) -> dict[str, float]:
    """Service index per domain present in the organisation, in [0, 1]."""
    values = structure.domain_weights @ departments.quality
    return dict(zip(structure.domains, values.tolist(), strict=True))


def adoption_shares(structure: Structure, departments: DepartmentState) -> np.ndarray:
    """float (P,): share of the city's real staff proficient in each practice, in [0, 1]
    (each department's simulated share weighted by its real headcount)."""
    real = departments.proficient_count * structure.real_per_post[:, None]
    return real.sum(axis=0) / structure.real_staff


def institutionalised_counts(departments: DepartmentState) -> np.ndarray:
    """int (P,): departments in which each practice is standard procedure."""
    return departments.sop.sum(axis=0)


def mean_proficiency(departments: DepartmentState, staff: StaffState) -> float:
    return float(departments.proficiency_total.sum() / staff.proficiency.size)


def staff_abroad(ledger: ProgramState) -> int:
    """Real staff who spent this month in Tokyo (counted before those finishing return home)."""
    return int(ledger.real_abroad)


def simulated_abroad(departments: DepartmentState) -> int:
    """Simulated staff who spent this month in Tokyo (equals staff_abroad at full scale)."""
    return int(departments.absent.sum())


def expert_trainees(ledger: ProgramState) -> int:
    """Real staff in training with visiting Tokyo experts this month."""
    return int(ledger.real_trainees)


def department_implementation(structure: Structure, departments: DepartmentState) -> np.ndarray:
    """float (D,): relevance-weighted mean implementation of all practices, in [0, 1]."""
    return (structure.relevance_share * departments.implementation).sum(axis=1)


def departments_with_sop(departments: DepartmentState) -> int:
    """Departments where at least one practice is standard procedure."""
    return int(departments.sop.any(axis=1).sum())


def proficient_people(structure: Structure, departments: DepartmentState) -> dict:
    """Real staff now in service (each department's simulated count times the real staff a post
    stands for): `trained_staff` trained by the program (in Tokyo or by a visiting expert), of
    them `trained_proficient` proficient (>= threshold) in at least one practice, and
    `colleagues_proficient` never trained by the program but proficient in at least one practice
    (they learnt it at home), from the month's tally (`DepartmentState.people`)."""
    real = structure.real_per_post @ departments.people
    return dict(zip(("trained_staff", "trained_proficient", "colleagues_proficient"),
                    real.tolist(), strict=True))  # fmt: skip


def sop_readiness(structure: Structure, departments: DepartmentState) -> np.ndarray:
    """float (D,): each department's most advanced pilot of any practice as a multiple of that
    practice's institutionalisation threshold (`institutions.readiness`; >= 1: ready for a
    standard procedure, which its champion with authority adopts with a monthly chance)."""
    ready = readiness(departments, structure)
    return ready.max(axis=1) if ready.shape[1] else np.zeros(ready.shape[0])


def department_proficient_share(structure: Structure, departments: DepartmentState) -> np.ndarray:
    """float (D,): share of (staff, practice) pairs proficient, relevance-weighted, in [0, 1]."""
    share = departments.proficient_count / structure.headcount[:, None]
    return (structure.relevance_share * share).sum(axis=1)


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
    "departments_with_sop",
)


#: Relevance from which a practice counts as relevant to a department (returnee statistics).
RELEVANT = 0.5


def applicable_practices(structure: Structure) -> np.ndarray:
    """bool (B, D, P): practice k, taught at Tokyo bureau b, is relevant to department d."""
    return structure.taught[:, None, :] & (structure.relevance[None, :, :] >= RELEVANT)


def returnees_learnt(
    staff: StaffState, structure: Structure, rows: np.ndarray, threshold: float
) -> np.ndarray:
    """bool (len(rows),): each returnee of `rows` masters (>= threshold) at least one practice
    taught at their last Tokyo bureau: what they learnt there, whether or not they use it."""
    taught = structure.taught[staff.placement[rows]]
    return ((staff.proficiency[rows] >= threshold) & taught).any(axis=1)


def in_use(
    staff: StaffState,
    structure: Structure,
    departments: DepartmentState,
    rows: np.ndarray,
    coaching: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """bool (len(rows), P): each of `rows` uses practice k at work this month: they or their
    supervisor champion it (a manager at home who masters it), it is standard procedure in their
    department, or they coached this month (bool (n,) `coaching`); as the forgetting rule reads
    it (§7.5). The FOLLOWS bit of `institutions.coverage`, on `rows` only: the whole staff's pass
    would cost about a tenth of a month's run (a test checks that both agree)."""
    org, p = structure.organisation, staff.proficiency
    home = ~staff.abroad
    me = (home[rows] & (org.rank[rows] > 0))[:, None] & (p[rows] >= threshold)
    boss = org.supervisor[rows]
    has = boss >= 0
    b = np.where(has, boss, 0)
    chief = (has & home[b] & (org.rank[b] > 0))[:, None] & (p[b] >= threshold)
    sop = departments.sop[org.dept[rows]]
    return me | chief | sop | coaching[rows, None]


def returnees_applying(
    staff: StaffState,
    structure: Structure,
    departments: DepartmentState,
    rows: np.ndarray,
    what: np.ndarray,
    coaching: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """bool (len(rows),): each returnee of `rows` applies what they learnt at home: masters (>=
    threshold) and uses (`in_use`) at least one practice taught at their last Tokyo bureau that
    is relevant (>= RELEVANT) to the department of their post now. Leavers are gone (their
    post's new holder has not been to Tokyo), so they do not apply."""
    dept = structure.organisation.dept[rows]
    usable = what[staff.placement[rows], dept]
    used = in_use(staff, structure, departments, rows, coaching, threshold)
    return ((staff.proficiency[rows] >= threshold) & usable & used).any(axis=1)


class Recorder:
    """Preallocated monthly table of the reporters above, months 0..horizon."""

    def __init__(self, horizon: int, structure: Structure, threshold: float) -> None:
        rows = horizon + 1
        self.domains = list(structure.domains)
        self.practices = list(structure.catalogue.ids)
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
                "trained_staff",
                "trained_proficient",
                "colleagues_proficient",
                "departments_with_sop",
            )
        }
        self.adoption = np.zeros((rows, len(self.practices)))
        self.sop = np.zeros((rows, len(self.practices)), dtype=np.int64)
        org = structure.organisation
        n_dep = org.n_departments
        self.department_ids = list(org.department_ids)
        self.department_domains = list(org.departments["domain"])
        self.dept_quality = np.zeros((rows, n_dep))
        self.dept_implementation = np.zeros((rows, n_dep))
        self.dept_proficient = np.zeros((rows, n_dep))
        self.dept_sops = np.zeros((rows, n_dep), dtype=np.int64)
        self.dept_readiness = np.zeros((rows, n_dep))
        # returnees: how many came home in month r, and how many of them master what they learnt
        # and apply it at month t; how many chose to share; (department, practice) pairs: month
        # of the first return of someone who masters it, and months from then to an SOP
        self.returned = np.zeros(rows, dtype=np.int64)
        self.sharing = np.zeros(rows, dtype=np.int64)
        self.learnt = np.zeros((rows, rows), dtype=np.int64)  # [t, r]
        self.applying = np.zeros((rows, rows), dtype=np.int64)  # [t, r]
        self.first_return = np.full((n_dep, len(self.practices)), -1, dtype=np.int64)
        self.ever_sop = np.zeros((n_dep, len(self.practices)), dtype=bool)
        self.sop_delays: list[int] = []
        self.what_applies = applicable_practices(structure)
        self.threshold = np.float32(threshold)

    def record(
        self,
        month: int,
        staff: StaffState,
        structure: Structure,
        departments: DepartmentState,
        ledger: ProgramState,
        coaching: np.ndarray,
    ) -> None:
        """Month `month`'s row; bool (n,) `coaching`: who coached this month."""
        t, sc, st, deps = month, self.scalars, structure, departments
        sc["service_index"][t] = service_index(st, deps)
        for name, v in domain_indices(st, deps).items():
            sc[f"index_{name}"][t] = v
        sc["mean_proficiency"][t] = mean_proficiency(deps, staff)
        sc["staff"][t] = st.real_staff
        sc["simulated_staff"][t] = st.n_staff
        sc["staff_abroad"][t] = staff_abroad(ledger)
        sc["simulated_abroad"][t] = simulated_abroad(deps)
        sc["expert_trainees"][t] = expert_trainees(ledger)
        for name, v in ledger.totals.items():
            sc[name][t] = v
        for name, v in proficient_people(st, deps).items():
            sc[name][t] = v
        sc["departments_with_sop"][t] = departments_with_sop(deps)
        self.adoption[t] = adoption_shares(st, deps)
        self.sop[t] = institutionalised_counts(deps)
        self.dept_quality[t] = deps.quality
        self.dept_implementation[t] = department_implementation(st, deps)
        self.dept_proficient[t] = department_proficient_share(st, deps)
        self.dept_sops[t] = deps.sop.sum(axis=1)
        self.dept_readiness[t] = sop_readiness(st, deps)
        back = np.flatnonzero(staff.returned >= 0)
        learnt = returnees_learnt(staff, st, back, self.threshold)
        counts = np.bincount(staff.returned[back[learnt]], minlength=t + 1)
        self.learnt[t, : counts.size] = counts
        applies = returnees_applying(
            staff, st, deps, back, self.what_applies, coaching, self.threshold
        )
        counts = np.bincount(staff.returned[back[applies]], minlength=t + 1)
        self.applying[t, : counts.size] = counts
        new = deps.sop & ~self.ever_sop
        self.ever_sop |= deps.sop
        since = self.first_return[new]
        self.sop_delays.extend((t - since[since >= 0]).tolist())

    def note_returns(
        self, month: int, rows: np.ndarray, staff: StaffState, structure: Structure
    ) -> None:
        """`rows` came home from Tokyo this month (having decided whether to share)."""
        self.returned[month] += rows.size
        self.sharing[month] += int((staff.sharing_left[rows] > 0).sum())
        masters = staff.proficiency[rows] >= self.threshold
        who, k = np.nonzero(masters)
        d = structure.organisation.dept[rows[who]]
        first = self.first_return[d, k] < 0
        self.first_return[d[first], k[first]] = month

    def statistics(self) -> dict[str, float]:
        """Run-level statistics (NaN without an instance): `returnees_sharing`, the share of
        returnees who chose to share what they learnt; `months_to_sop`, the mean months from the
        first return of someone who masters a practice into a department to that department's
        first SOP of it (over the SOPs adopted in the run after such a return)."""
        came = self.returned.sum()
        return {
            "returnees_sharing": float(self.sharing.sum() / came) if came else float("nan"),
            "months_to_sop": float(np.mean(self.sop_delays)) if self.sop_delays else float("nan"),
        }

    def returnee_frame(self, upto: int) -> pd.DataFrame:
        """Returnees k = 0..upto months after their return, pooled over every return month r
        with r + k <= upto: `returnees` (came home, simulated staff), `applying` (of them, still
        in the service and proficient in a practice they learnt that is relevant to their
        department, `returnees_applying`), `share` (applying / returnees; NaN when nobody had
        been back that long)."""
        lags = np.arange(upto + 1)
        came = np.array([self.returned[: upto + 1 - k].sum() for k in lags])
        months = np.arange(upto + 1)

        def pooled(table: np.ndarray) -> np.ndarray:  # sum over r of table[r + k, r], per lag k
            return np.array([table[months[: upto + 1 - k] + k, months[: upto + 1 - k]].sum()
                             for k in lags])  # fmt: skip

        learnt, apply = pooled(self.learnt), pooled(self.applying)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(came > 0, apply / np.maximum(came, 1), np.nan)
            share_learnt = np.where(came > 0, learnt / np.maximum(came, 1), np.nan)
        return pd.DataFrame(
            {
                "lag": lags,
                "returnees": came,
                "learnt": learnt,
                "applying": apply,
                "share_learnt": share_learnt,
                "share": share,
            }
        )

    def frame(self, upto: int):
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
        """Long table: month, department, domain, quality, implementation, proficient_share,
        sops (practices that are standard procedure), sop_readiness (`sop_readiness`)."""
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
                "sops": self.dept_sops[: upto + 1].ravel(),
                "sop_readiness": self.dept_readiness[: upto + 1].ravel(),
            }
        )


#: Columns of the department table (`Recorder.department_frame`), Mesa's table "departments".
DEPARTMENT_COLUMNS = ("month", "department", "domain", "quality", "implementation",
                      "proficient_share", "sops", "sop_readiness")  # fmt: skip


def city_reporters(recorder: Recorder) -> dict:
    """Mesa model reporters, one per column of the monthly city table (`Recorder.frame`), each
    reading the recorder's row of the model's current month."""

    def scalar(name: str, integer: bool):
        cast = int if integer else float
        return lambda m: cast(m.recorder.scalars[name][m.month])

    def practice(table: str, k: int, cast):
        return lambda m: cast(getattr(m.recorder, table)[m.month, k])

    reporters = {"month": lambda m: m.month}
    reporters.update({k: scalar(k, k in INTEGER_COLUMNS) for k in recorder.scalars})
    for k, pid in enumerate(recorder.practices):
        reporters[f"adoption_{pid}"] = practice("adoption", k, float)
    for k, pid in enumerate(recorder.practices):
        reporters[f"sop_{pid}"] = practice("sop", k, int)
    return reporters


def department_rows(recorder: Recorder, month: int) -> list[dict]:
    """The department table's rows of one month (Mesa's table "departments")."""
    return [
        {"month": month, "department": d, "domain": dom, "quality": float(q),
         "implementation": float(i), "proficient_share": float(p), "sops": int(n),
         "sop_readiness": float(r)}
        for d, dom, q, i, p, n, r in zip(
            recorder.department_ids, recorder.department_domains,
            recorder.dept_quality[month], recorder.dept_implementation[month],
            recorder.dept_proficient[month], recorder.dept_sops[month],
            recorder.dept_readiness[month], strict=True,
        )
    ]  # fmt: skip


def staff_snapshot(
    month: int, staff: StaffState, structure: Structure, absorptive_gain: float
) -> dict:
    """Every staff member's state now (for opt-in per-agent records)."""
    s, org, n = staff, structure.organisation, structure.n_staff
    row = {
        "month": np.full(n, month),
        "post": np.arange(n),
        "department": np.asarray(org.department_ids)[org.dept],
        "rank": org.rank.copy(),
        "tenure": s.tenure.copy(),
        "capacity": s.capacity(absorptive_gain),
        "willingness": s.willingness.copy(),
        "abroad": s.abroad.copy(),
        "exchanges": s.exchanges.copy(),
        "trained": s.trained.copy(),
        "sharing_left": s.sharing_left.copy(),
    }
    for k, pid in enumerate(structure.catalogue.ids):
        row[f"proficiency_{pid}"] = s.proficiency[:, k].copy()
    return row
