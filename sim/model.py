"""The Jakarta-Tokyo staff-exchange model (Mesa).

One step is one month:
1. the program sends a cohort to Tokyo and/or starts an expert visit when due, and pays for
   this month's staff-months abroad (program counts and costs are of real staff; at scale < 1
   the simulated cohort is their scaled equivalent, see `sim.program.scaled_group`);
2. every staff member lives the month (engine: `vectorised` arrays or `reference` agents):
   training abroad or with experts, learning from colleagues, forgetting, returning, turnover;
3. rotation (mutasi) moves a share of staff to other posts of the same rank when due;
4. departments update implementation, standard procedures and service quality;
5. reporters record the month.
"""

from __future__ import annotations

from functools import cached_property

import mesa
import numpy as np
import scipy.sparse as sp

from sim import engine, institutions, kernels, program, rules, transfer
from sim.agents import StaffAgent
from sim.config import ModelConfig
from sim.errors import ConfigError
from sim.inputs import prepare
from sim.network import build_ties, cross_department_ties
from sim.organisation import DOMAINS, build_organisation
from sim.reporters import TOTALS, Recorder, domain_weights, staff_snapshot
from sim.roster import organisation_from_roster
from sim.state import PERSONAL, DepartmentState, StaffState

#: Independent random streams, one per process, so that changing one lever (e.g. cohort size 0)
#: does not shift the draws of the others (common random numbers across scenarios).
STREAMS = (
    "network",
    "init",
    "selection",
    "experts",
    "contacts",
    "transfer",
    "turnover",
    "rotation",
    "ranking",
    # appended last so that the streams above keep their seeds: how many simulated people stand
    # for a real cohort or a visit's trainees at scale < 1 (stochastic rounding)
    "cohort_rounding",
    "visit_rounding",
)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed = {seed!r}: must be a non-negative integer")
    return int(seed)


class ExchangeModel(mesa.Model):
    """Staff of Jakarta's departments, a Tokyo exchange program, and the city's service quality."""

    def __init__(self, config: ModelConfig | None = None, seed: int = 0) -> None:
        config = config if config is not None else ModelConfig()
        seed = _check_seed(seed)
        super().__init__(seed=seed)
        self.config = config
        self.seed = seed
        sequences = np.random.SeedSequence(seed).spawn(len(STREAMS))
        self.streams = {
            name: np.random.default_rng(seq) for name, seq in zip(STREAMS, sequences, strict=True)
        }
        self._build_structure()
        if self.inputs.ties is not None:
            self.ties = self.inputs.ties
        else:
            self.ties = build_ties(self.organisation, config.network, self.streams["network"])
        self._derive_network_measures()
        self.state = self._initial_staff()
        n_dep, n_pr = self.organisation.n_departments, self.catalogue.n
        self.departments = DepartmentState(
            implementation=np.zeros((n_dep, n_pr)),
            sop=np.zeros((n_dep, n_pr), dtype=bool),
            quality=self.baseline_quality.copy(),
            absent=np.zeros(n_dep, dtype=np.int64),
        )
        self.month = 0
        self.spread_next = 0
        self.expert_next = 0
        self.totals = dict.fromkeys(TOTALS, 0.0)
        # real staff away: (first month, real people, months) of each cohort and visit group
        self.cohorts_abroad: list[tuple[int, int, int]] = []
        self.visit_groups: list[tuple[int, int, int]] = []
        self.real_abroad = 0
        self.real_trainees = 0
        self.monthly_exit = float(rules.monthly_probability(config.behavior.turnover_rate))
        StaffAgent.create_agents(self, self.n_staff, index=list(range(self.n_staff)))
        institutions.tally(self)
        self.recorder = Recorder(self)
        self.recorder.record(self)
        self.staff_log: list[dict] = []
        self.record_staff()

    # --- construction ----------------------------------------------------------------------
    def _build_structure(self) -> None:
        cfg = self.config
        sc, p = cfg.scenario, cfg.program
        inputs = prepare(cfg)
        deps, catalogue, bureaus = inputs.departments, inputs.catalogue, inputs.bureaus
        ids = list(deps["id"])
        self.catalogue = catalogue
        self.inputs = inputs
        if inputs.roster is not None:
            self.organisation = org = organisation_from_roster(deps, inputs.roster)
            self.staff_ids = inputs.roster.ids
        else:
            self.organisation = org = build_organisation(
                deps, sc.scale, sc.min_department_size, sc.section_span, sc.division_span
            )
            self.staff_ids = None
        self.n_staff = org.n_staff
        self.target_mask = None
        if p.target_departments:
            self.target_mask = np.isin(np.array(ids), p.target_departments)
        self.bureaus = bureaus
        self.taught = catalogue.taught(bureaus)
        self.bureau_of_department = np.array([bureaus.index(b) for b in deps["tokyo_bureau"]])
        domains = list(deps["domain"])
        self.domain_of_department = np.array([DOMAINS.index(d) for d in domains])
        self.relevance = catalogue.relevance(ids, domains)
        self.tacitness = rules.effective_tacitness(
            catalogue.tacitness, cfg.behavior.tacitness_scale
        )
        self.explicitness = (1.0 - self.tacitness).astype(np.float32)  # 1 - tacitness
        self.sop_threshold = np.clip(
            catalogue.institutionalisation * cfg.behavior.institutionalisation_scale, 0.0, 1.0
        )
        self.headcount = org.headcount
        #: float (D,): real staff of each department (the departments file's headcount)
        self.full_headcount = org.departments["full_headcount"].to_numpy(dtype=float)
        #: float (D,): simulated posts per real staff member (1 at full scale)
        self.simulated_per_real = self.headcount / self.full_headcount
        #: float (D,): real staff each simulated post stands for (1 at full scale)
        self.real_per_post = self.full_headcount / self.headcount
        self.real_staff = float(self.full_headcount.sum())
        pool = self.target_mask if self.target_mask is not None else slice(None)
        #: simulated per real staff of the departments cohorts are drawn from
        self.cohort_ratio = float(self.headcount[pool].sum() / self.full_headcount[pool].sum())
        rel_total = self.relevance.sum(axis=1, keepdims=True)
        self.relevance_share = self.relevance / np.where(rel_total > 0, rel_total, 1.0)
        self.baseline_quality = org.departments["baseline_quality"].to_numpy(dtype=float)
        self.service_weight = org.departments["weight"].to_numpy(dtype=float)
        self.domain_weight_matrix = domain_weights(self)
        # rank levels: posts of department d and rank r form group 4d + r
        groups = org.dept.astype(np.int64) * 4 + org.rank
        posts = np.bincount(groups, minlength=4 * org.n_departments).reshape(-1, 4)
        self.posts_per_rank_group = np.maximum(posts, 1).reshape(-1)
        lw = np.asarray(cfg.behavior.leader_weights, dtype=float)[None, :] * (posts > 0)
        total = lw.sum(axis=1, keepdims=True)
        self.level_weights = np.divide(lw, total, out=np.zeros_like(lw), where=total > 0)
        if p.expert_departments:
            self.expert_order = np.array([ids.index(x) for x in p.expert_departments])
        else:
            self.expert_order = np.argsort(-self.service_weight, kind="stable")

    @cached_property
    def upward_ties(self) -> sp.csr_array:
        """Tie strengths damped where knowledge would flow up the hierarchy (threshold rule)."""
        return transfer.upward_ties(
            self.ties, self.organisation.rank, self.config.behavior.power_distance
        )

    def _derive_network_measures(self) -> None:
        org, ties = self.organisation, self.ties
        # "most central" = brokers: most cross-department ties, then most ties, then at random
        cross = cross_department_ties(ties, org.dept)
        tiebreak = self.streams["ranking"].random(ties.n)
        order = np.lexsort((tiebreak, ties.degree, cross))
        self.centrality = np.empty(ties.n)
        self.centrality[order] = np.arange(ties.n)

    def _initial_staff(self) -> StaffState:
        b, org = self.config.behavior, self.organisation
        rng = self.streams["init"]
        n, n_pr = org.n_staff, self.catalogue.n
        mean = self.catalogue.prior[None, :] * b.initial_knowledge * self.relevance[org.dept]
        proficiency = np.clip(mean * rng.uniform(0.0, 2.0, size=(n, n_pr)), 0.0, 1.0)
        state = StaffState(
            proficiency=proficiency.astype(np.float32),
            base_capacity=rules.draw_beta(rng, b.capacity_mean, b.capacity_sd, n).astype(
                np.float32
            ),
            willingness=rules.draw_beta(rng, b.willingness_mean, b.willingness_sd, n).astype(
                np.float32
            ),
            tenure=rng.integers(0, 30 * 12, size=n).astype(np.int32),
            exchanges=np.zeros(n, dtype=np.int16),
            abroad=np.zeros(n, dtype=bool),
            months_left=np.zeros(n, dtype=np.int16),
            placement=np.zeros(n, dtype=np.int16),
            expert_months_left=np.zeros(n, dtype=np.int16),
            expert_bureau=np.zeros(n, dtype=np.int16),
        )
        roster = self.inputs.roster
        if roster is not None:  # what the roster gives replaces the draws (made all the same)
            state.tenure[:] = roster.tenure
            for given, target in ((roster.capacity, state.base_capacity),
                                  (roster.willingness, state.willingness)):  # fmt: skip
                known = ~np.isnan(given)
                target[known] = given[known]
            for k, pid in enumerate(self.catalogue.ids):
                given = roster.proficiency[pid]
                known = ~np.isnan(given)
                state.proficiency[known, k] = given[known]
        return state

    # --- helpers used by the program, the engines and the reporters --------------------------
    def effective_capacity(self) -> np.ndarray:
        s = self.state
        return rules.effective_capacity(
            s.base_capacity, s.proficiency.mean(axis=1), self.config.behavior.absorptive_gain
        )

    def placement_of(self, rows: np.ndarray) -> np.ndarray:
        p = self.config.program
        if p.placement is not None:
            return np.full(rows.size, self.bureaus.index(p.placement))
        return self.bureau_of_department[self.organisation.dept[rows]]

    def hire(self, rows: np.ndarray) -> None:
        """The holders of `rows` leave; new hires take the posts with what the SOPs teach."""
        if rows.size == 0:
            return
        b, s, deps = self.config.behavior, self.state, self.departments
        rng = self.streams["turnover"]
        d = self.organisation.dept[rows]
        s.proficiency[rows] = rules.new_hire_proficiency(
            deps.implementation[d], deps.sop[d], b.new_hire_sop_level
        )
        s.base_capacity[rows] = rules.draw_beta(rng, b.capacity_mean, b.capacity_sd, rows.size)
        s.willingness[rows] = rules.draw_beta(rng, b.willingness_mean, b.willingness_sd, rows.size)
        s.tenure[rows] = 0
        s.exchanges[rows] = 0
        s.expert_months_left[rows] = 0
        self.totals["exits"] += float(self.real_per_post[d].sum())

    # --- the month --------------------------------------------------------------------------
    def step(self) -> None:
        self.month += 1
        self.run_program()
        self.take_snapshot()
        if self.config.engine == "reference":
            self.agents.do("step")
        else:
            engine.staff_month(self)
        self.rotate()
        institutions.update_departments(self)
        self.recorder.record(self)
        self.record_staff()

    def record_staff(self) -> None:
        every = self.config.record_staff_every
        if every and self.month % every == 0:
            self.staff_log.append(staff_snapshot(self))

    def run_program(self) -> None:
        """Departures and visits due this month; real staff away and this month's cost."""
        cfg, t = self.config, self.month
        p = cfg.program
        if program.departure_due(t, p, cfg.horizon):
            u = self.streams["cohort_rounding"].random()
            cohort, real = program.select_cohort(self, u, self.streams["selection"])
            program.depart(self, cohort)
            self.cohorts_abroad.append((t, real, p.duration))
            self.totals["departures"] += real
            self.totals["cohort_shortfall"] += p.cohort_size - real
        if program.expert_visit_due(t, p, cfg.horizon):
            u = self.streams["visit_rounding"].random()
            real = program.start_expert_visit(self, u, self.streams["experts"])
            self.visit_groups.append((t, real, p.expert_duration))
            self.totals["expert_visits"] += p.experts_per_visit
            self.totals["cost"] += p.experts_per_visit * p.cost_per_expert_visit
        self.cohorts_abroad = [g for g in self.cohorts_abroad if t < g[0] + g[2]]
        self.visit_groups = [g for g in self.visit_groups if t < g[0] + g[2]]
        self.real_abroad = sum(g[1] for g in self.cohorts_abroad)
        self.real_trainees = sum(g[1] for g in self.visit_groups)
        abroad = self.state.abroad
        self.departments.absent = np.bincount(
            self.organisation.dept[abroad], minlength=self.organisation.n_departments
        )
        self.totals["staff_months_abroad"] += self.real_abroad
        self.totals["cost"] += self.real_abroad * p.cost_per_staff_month

    def take_snapshot(self) -> None:
        """Freeze start-of-month proficiency and presence: every colleague is read from here."""
        s = self.state
        self.snapshot, self.mean_proficiency_at_start = kernels.snapshot_with_means(s.proficiency)
        self.home_at_start = ~s.abroad
        if self.config.behavior.mechanism == "threshold" and self.ties.well_mixed:
            self.proficient_at_start_count, self.proficient_level_sum = transfer.well_mixed_totals(
                self.snapshot, self.home_at_start, self.config.behavior.proficiency_threshold
            )

    def rotate(self) -> None:
        """Mutasi: a share of staff at home swap posts with others of the same rank."""
        b = self.config.behavior
        if b.rotation_share <= 0 or self.month % b.rotation_interval:
            return
        s, rng, org = self.state, self.streams["rotation"], self.organisation
        candidates = np.flatnonzero(~s.abroad & (s.expert_months_left == 0))
        k = int(round(b.rotation_share * candidates.size))
        if k < 2:
            return
        movers = np.sort(rng.choice(candidates, size=k, replace=False))
        moved = 0
        for r in np.unique(org.rank[movers]):
            group = movers[org.rank[movers] == r]
            dest = rng.permutation(group)
            for name in PERSONAL:
                arr = getattr(s, name)
                arr[dest] = arr[group]
            changed = dest[org.dept[dest] != org.dept[group]]
            moved += float(self.real_per_post[org.dept[changed]].sum())
        self.totals["rotations"] += moved

    # --- results ----------------------------------------------------------------------------
    def results(self):
        """pandas DataFrame, one row per month 0..current month (see sim.reporters)."""
        return self.recorder.frame(self.month)

    def staff_results(self):
        """Per-agent records (one row per staff member and recorded month); needs
        `record_staff_every` > 0, else an empty table."""
        import pandas as pd

        if not self.staff_log:
            return pd.DataFrame()
        return pd.concat([pd.DataFrame(r) for r in self.staff_log], ignore_index=True)

    def department_results(self):
        """pandas DataFrame, one row per month and department (see Recorder.department_frame)."""
        return self.recorder.department_frame(self.month)

    def department_ties(self) -> np.ndarray:
        """int (D, D): number of ties between each pair of departments (diagonal: inside)."""
        org, ties = self.organisation, self.ties
        if ties.indices.size == 0:
            return np.zeros((org.n_departments,) * 2, dtype=np.int64)
        owner = np.repeat(np.arange(ties.n), ties.degree)
        n_dep = org.n_departments
        flat = org.dept[owner].astype(np.int64) * n_dep + org.dept[ties.indices]
        return np.bincount(flat, minlength=n_dep * n_dep).reshape(n_dep, n_dep)

    def release(self) -> None:
        """Let Python free this model (Mesa 3.3.1 keeps every model alive in Agent._ids)."""
        mesa.Agent._ids.pop(self, None)
