"""The model's state in named parts, one small dataclass each.

- `Structure`: what stays fixed during a run: the organisation, its ties, the practice catalogue
  and the arrays derived from them and from the settings;
- `StaffState`: per-person state, one row per post's current holder (`StaffAgent` exposes a row);
- `Snapshot`: the start-of-month copy every colleague is read from;
- `DepartmentState`: implementation, standard procedures, quality, absence, and the month's
  tallies of the staff;
- `ProgramState`: the program's round-robin pointers, its ledger of real staff away, and the
  cumulative totals;
- `Streams`: the independent random streams (`sim.model.STREAMS`).

`ExchangeModel` owns one of each; modules receive the parts they use as function arguments.
Shapes: n posts, D departments, P practices, B Tokyo bureaus, K service domains present.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import scipy.sparse as sp

from sim import rules
from sim.network import Ties
from sim.organisation import Organisation
from sim.practices import Catalogue

# A person's own attributes, which travel with them when they rotate to another post.
PERSONAL = (
    "proficiency",
    "base_capacity",
    "willingness",
    "tenure",
    "exchanges",
    "placement",
    "returned",
    "trained",
    "sharing_left",
)

#: Cumulative totals the model keeps (`ProgramState.totals`) and records every month: real staff
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


@dataclass(frozen=True)
class Structure:
    """The organisation, its ties and practices, and what is derived from them once per run."""

    organisation: Organisation  # departments and posts (department, rank, supervisor of each)
    ties: Ties  # work ties between posts (CSR), or well-mixed
    catalogue: Catalogue  # the P practices
    bureaus: list[str]  # the B Tokyo bureaus
    staff_ids: list[str] | None  # roster ids of the posts' holders; None when generated
    taught: np.ndarray  # bool (B, P): practice can be learnt at the bureau
    bureau_of_department: np.ndarray  # int64 (D,): counterpart Tokyo bureau
    domain_of_department: np.ndarray  # int64 (D,): index into organisation.DOMAINS
    relevance: np.ndarray  # float64 (D, P) in [0, 1]
    relevance_share: np.ndarray  # float64 (D, P): relevance normalised over practices
    tacitness: np.ndarray  # float64 (P,) in [0, 1]: effective tacitness tau_k
    explicitness: np.ndarray  # float64 (P,): 1 - tacitness
    explicitness_f32: np.ndarray  # float32 (P,): the same, for float32 arithmetic (gap rule)
    # float32 (P,): 1 - abroad_tacitness_weight x tacitness, how much of a practice side-by-side
    # learning passes on (coaching, learning on the job)
    side_keep_f32: np.ndarray
    reports: np.ndarray  # int32 (n,): people who report to each post (in its department)
    # int32 (n,): division heads and heads numbered 0..n_authority-1 (-1 for other posts): the
    # posts with authority over standard procedures
    authority_slot: np.ndarray
    n_authority: int
    sop_threshold: np.ndarray  # float64 (P,) in [0, 1]: implementation that makes an SOP
    headcount: np.ndarray  # int64 (D,): simulated posts
    full_headcount: np.ndarray  # float64 (D,): real staff (the departments file's headcount)
    simulated_per_real: np.ndarray  # float64 (D,): simulated posts per real staff (1 at scale 1)
    real_per_post: np.ndarray  # float64 (D,): real staff each post stands for (1 at scale 1)
    real_staff: float  # real staff of the organisation
    cohort_ratio: float  # simulated per real staff of the departments cohorts are drawn from
    baseline_quality: np.ndarray  # float64 (D,) in [0, 1]
    service_weight: np.ndarray  # float64 (D,) > 0: weight in the city index
    domains: list[str]  # the K service domains present, in organisation.DOMAINS order
    domain_weights: np.ndarray  # float64 (K, D): service weights normalised within each domain
    expert_order: np.ndarray  # int64 (E,): departments visited by experts, in turn
    target_mask: np.ndarray | None  # bool (D,): target departments; None = all
    centrality: np.ndarray  # float64 (n,): broker rank order 0..n-1 (`central` selection)
    upward_ties: sp.csr_array | None  # float64 (n, n): w_ij U_ij (threshold rule on a network)
    monthly_exit: float  # monthly probability of leaving the service

    @property
    def n_staff(self) -> int:
        return self.organisation.n_staff


@dataclass
class StaffState:
    """Per-person state, rows indexed by post 0..n-1."""

    proficiency: np.ndarray  # float32 (n, P) in [0, 1]
    base_capacity: np.ndarray  # float32 (n,) in [0, 1]
    willingness: np.ndarray  # float32 (n,) in [0, 1]
    tenure: np.ndarray  # int32 (n,), months in service
    exchanges: np.ndarray  # int16 (n,), exchanges made so far
    abroad: np.ndarray  # bool (n,)
    months_left: np.ndarray  # int16 (n,), months left in Tokyo (0 at home)
    placement: np.ndarray  # int16 (n,), Tokyo bureau index while abroad (and of the last stay)
    expert_months_left: np.ndarray  # int16 (n,), months of expert training left
    expert_bureau: np.ndarray  # int16 (n,), bureau of the visiting expert
    returned: np.ndarray  # int16 (n,), month of the last return home from Tokyo, -1 never
    trained: np.ndarray  # bool (n,), trained by the program (in Tokyo or by an expert)
    sharing_left: np.ndarray  # int16 (n,), months of deliberate sharing (coaching) left

    @property
    def n(self) -> int:
        return self.abroad.size

    def copy(self) -> StaffState:
        return StaffState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def capacity(self, absorptive_gain: float) -> np.ndarray:
        """float (n,): effective absorptive capacity on current proficiency (§7.1)."""
        return rules.effective_capacity(
            self.base_capacity, self.proficiency.mean(axis=1), absorptive_gain
        )


@dataclass(frozen=True)
class Snapshot:
    """Start-of-month proficiency and presence: every colleague is read from here."""

    proficiency: np.ndarray  # float32 (n, P): s_ik (a view on `packed`)
    mean_proficiency: np.ndarray  # float32 (n,): mean of each row
    home: np.ndarray  # bool (n,): h_i, at home at the start of the month
    # float32 (n, W), W = P + 3 rounded up to 16: proficiency, the person as a sender (their
    # willingness; -1 when abroad, 0 when they pass nothing on), rank, and as a coach (1 while
    # sharing, else 0) in one cache line (`kernels.snapshot_packed`)
    packed: np.ndarray
    # bool (n,): the person passes knowledge on (False only for the trained when the colleague
    # channel is switched off)
    shares: np.ndarray
    # the threshold rule in a well-mixed organisation only (else None): staff at home proficient
    # in each practice, int64 (P,), and the sum of their levels, float32 (P,)
    proficient_count: np.ndarray | None = None
    proficient_level_sum: np.ndarray | None = None

    @property
    def coach(self) -> np.ndarray:
        """float32 (n,): 1 for each person who coaches this month (sharing, at home and passing
        knowledge on), else 0 (a view on `packed`)."""
        return self.packed[:, self.proficiency.shape[1] + 2]


@dataclass
class DepartmentState:
    """Per-department state over D departments and P practices, and the month's tallies of the
    staff (`institutions.tally`) that institutions and reporters read."""

    implementation: np.ndarray  # float64 (D, P) in [0, 1]
    sop: np.ndarray  # bool (D, P): practice is standard procedure
    quality: np.ndarray  # float64 (D,) in [0, 1]
    absent: np.ndarray  # int64 (D,): staff abroad this month
    execution: np.ndarray  # float64 (D, P): sum over staff at home of how they carry it out
    # float64 (D, P) in [0, 1]: the best share of a unit of a champion with authority (division
    # head or head, themselves and their reports) carrying the practice out; 0 without one
    pilot: np.ndarray
    led: np.ndarray  # bool (D, P): a champion (a manager at home, proficient) is there
    # int64 (D, 3): staff trained by the program, of them proficient in some practice, and staff
    # never trained but proficient in some practice
    people: np.ndarray
    proficient_count: np.ndarray  # int64 (D, P): staff proficient
    proficiency_total: np.ndarray  # float64 (P,): proficiency summed over all staff

    @classmethod
    def initial(cls, baseline_quality: np.ndarray, n_practices: int) -> DepartmentState:
        """Nothing implemented, no SOP, baseline quality, nobody away, empty tallies."""
        n_dep = baseline_quality.size
        return cls(
            implementation=np.zeros((n_dep, n_practices)),
            sop=np.zeros((n_dep, n_practices), dtype=bool),
            quality=baseline_quality.copy(),
            absent=np.zeros(n_dep, dtype=np.int64),
            execution=np.zeros((n_dep, n_practices)),
            pilot=np.zeros((n_dep, n_practices)),
            led=np.zeros((n_dep, n_practices), dtype=bool),
            people=np.zeros((n_dep, 3), dtype=np.int64),
            proficient_count=np.zeros((n_dep, n_practices), dtype=np.int64),
            proficiency_total=np.zeros(n_practices),
        )


@dataclass
class ProgramState:
    """The exchange program's bookkeeping; counts of people are real staff."""

    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TOTALS, 0.0))
    spread_next: int = 0  # next department of the `spread` policy (modulo D)
    expert_next: int = 0  # next entry of Structure.expert_order to visit (modulo E)
    # (first month, real people, months) of each cohort in Tokyo and each visit's trainee group
    cohorts_abroad: list[tuple[int, int, int]] = field(default_factory=list)
    visit_groups: list[tuple[int, int, int]] = field(default_factory=list)
    real_abroad: int = 0  # real staff in Tokyo this month
    real_trainees: int = 0  # real staff in training with visiting experts this month


@dataclass(frozen=True)
class Streams:
    """One independent random stream per process (names and seeding: `sim.model.STREAMS`)."""

    network: np.random.Generator
    init: np.random.Generator
    selection: np.random.Generator
    experts: np.random.Generator
    contacts: np.random.Generator
    transfer: np.random.Generator
    turnover: np.random.Generator
    rotation: np.random.Generator
    ranking: np.random.Generator
    cohort_rounding: np.random.Generator
    visit_rounding: np.random.Generator
    institutions: np.random.Generator
    sharing: np.random.Generator

    def __getitem__(self, name: str) -> np.random.Generator:
        """`streams["selection"]` reads like `streams.selection`."""
        return getattr(self, name)
