"""The Jakarta-Tokyo staff-exchange model (Mesa).

One step is one month, in the six phases of docs/model.md §3:
1. program: the program sends a cohort to Tokyo and/or starts an expert visit when due, and pays
   for this month's staff-months abroad (program counts and costs are of real staff; at scale
   < 1 the simulated cohort is their scaled equivalent, see `sim.program.scaled_group`);
2. snapshot: start-of-month proficiency and presence, from which every colleague is read;
3. staff month (engine: `vectorised` arrays or `reference` agents): training abroad or with
   experts, learning from colleagues, forgetting, returning, turnover;
4. rotation (mutasi) moves a share of staff to other posts of the same rank when due;
5. departments update implementation, standard procedures and service quality;
6. reporters record the month.

The model's state is in named parts (`sim.state`): `structure` (fixed in a run), `state` (staff),
`snapshot`, `departments`, `ledger` (the program's) and `streams`. The model owns them; the
phases hand each module the parts it uses.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import mesa
import numpy as np
import pandas as pd

from sim import agents, engine, institutions, program, rules, transfer
from sim.agents import StaffAgent
from sim.config import ModelConfig, ProgramConfig, validate_config, with_settings
from sim.errors import ConfigError, FinishedError
from sim.inputs.loading import Inputs, check_program, prepare
from sim.inputs.roster import organisation_from_roster
from sim.network import Ties, build_ties, cross_department_ties
from sim.organisation import DOMAINS, Organisation, build_organisation
from sim.practices import Catalogue
from sim.reporters import (
    DEPARTMENT_COLUMNS,
    Recorder,
    city_reporters,
    department_rows,
    domain_weights,
    staff_snapshot,
)
from sim.state import (
    PERSONAL,
    DepartmentState,
    ProgramState,
    Snapshot,
    StaffState,
    Streams,
    Structure,
)

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
    # appended for the same reason: departments' decisions to adopt standard procedures
    "institutions",
    # and whether someone who finishes program training shares it (coaches)
    "sharing",
)


def _check_seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"{name} = {seed!r}: must be a non-negative integer")
    return int(seed)


def seed_from(seed=None, rng=None) -> int:
    """The model's seed from Mesa's `seed=` or `rng=` (give one): an integer `rng` is that
    seed (the same run as `seed=rng`), as is a `SeedSequence(n)` not yet spawned; a numpy
    Generator, BitGenerator, other SeedSequence or list of integers gives its first draw below
    2^63 (a Generator is advanced by it); neither draws a fresh seed. The model keeps it in
    `model.seed`, so `seed=model.seed` repeats any run."""
    if seed is not None and rng is not None:
        raise ConfigError(
            f"seed = {seed!r} and rng = {rng!r}: give one of them (Mesa's rule); rng=<integer> "
            "is the same run as seed=<integer>"
        )
    if rng is None:
        return fresh_seed() if seed is None else _check_seed(seed)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return _check_seed(rng, "rng")
    if isinstance(rng, np.random.SeedSequence) and _plain_sequence(rng):
        return _check_seed(rng.entropy, "rng")
    kinds = np.random.Generator | np.random.BitGenerator | np.random.SeedSequence
    if isinstance(rng, kinds) or _integers(rng):
        return int(np.random.default_rng(rng).integers(2**63))
    raise ConfigError(
        f"rng = {rng!r}: must be a non-negative integer (the same run as seed=rng), or a numpy "
        "Generator, BitGenerator, SeedSequence or list of integers (the seed is drawn from it "
        "and kept in model.seed)"
    )


def _plain_sequence(sequence: np.random.SeedSequence) -> bool:
    """Whether a SeedSequence is what `SeedSequence(seed)` makes: one integer, not spawned."""
    plain = np.random.SeedSequence(0)
    return (
        isinstance(sequence.entropy, int)
        and sequence.spawn_key == ()
        and sequence.pool_size == plain.pool_size
        and sequence.n_children_spawned == 0
    )


def _integers(value) -> bool:
    """A non-empty list or tuple of non-negative integers (a seed numpy accepts)."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0 for v in value
        )
    )


class CityCollector(mesa.DataCollector):
    """The model's own DataCollector (city and department tables), which keeps no per-agent
    records: 60,000 staff a month would cost more than the model's month itself."""

    def get_agent_vars_dataframe(self):
        """Refused in one line that says how to get staff tables."""
        attributes = [k for k, v in vars(StaffAgent).items() if isinstance(v, property)]
        raise ConfigError(
            "model.datacollector records no staff; for a staff table set your own "
            "(model.datacollector = mesa.DataCollector(agent_reporters={'tenure': 'tenure'}); "
            f"StaffAgent attributes: {', '.join(attributes)}) or run with record_staff_every=k "
            "and read model.staff_results()"
        )


def fresh_seed() -> int:
    """A seed from the operating system's entropy (Mesa's convention for `seed=None`)."""
    return int(np.random.SeedSequence().generate_state(1)[0])


class ExchangeModel(mesa.Model):
    """Staff of Jakarta's departments, a Tokyo exchange program, and the city's service quality.

    `ExchangeModel(config, seed)` runs a `ModelConfig`; settings may also be given by their leaf
    names, alone or over `config` (`ExchangeModel(cohort_size=30, months_between_cohorts=6,
    scale=0.05, horizon=60, seed=1)`), as Mesa's `batch_run` and SolaraViz pass them.
    `seed=None` draws a fresh seed (kept in `model.seed`); Mesa's `rng=` is accepted instead
    of `seed` (`seed_from` says how it maps). `running` turns False at the horizon;
    `datacollector` holds the city and department tables in Mesa's form, or a DataCollector of
    your own (agent reporters on the StaffAgents included).
    """

    def __init__(
        self,
        config: ModelConfig | None = None,
        seed: int | None = None,
        city: City | None = None,
        *,
        rng=None,
        **settings,
    ) -> None:
        """`city`: what `build_city(config, seed)` built for this configuration (its program
        aside) and seed, reused instead of built again; the run is the same either way."""
        config = with_settings(config if config is not None else ModelConfig(), settings)
        seed = seed_from(seed, rng)
        super().__init__(seed=seed)
        self.config = config
        self.seed = seed
        self.streams = make_streams(seed)
        if city is None:
            city = build_city(config, seed, self.streams, prepare(config))
        else:
            validate_config(config)
            city.check(config, seed)
            check_program(config, city.inputs)
        self.structure = with_program(city.structure, config.program)
        self.state = city.staff.copy()
        self.snapshot: Snapshot | None = None  # taken at the start of every month
        self.departments = DepartmentState.initial(
            self.structure.baseline_quality, self.structure.catalogue.n
        )
        self.ledger = ProgramState()
        self.month = 0
        self._staff_agents_made = False  # made on first use of `agents` (see there)
        self._datacollector: mesa.DataCollector | None = None  # made on first use (see there)
        institutions.tally(
            self.departments, self.state, self.structure, config.behavior.proficiency_threshold
        )
        self.recorder = Recorder(
            config.horizon, self.structure, config.behavior.proficiency_threshold
        )
        self.record()
        self.staff_log: list[dict] = []
        self.record_staff()

    # --- the Mesa agents ----------------------------------------------------------------------
    @property
    def agents(self) -> mesa.agent.AgentSet:
        """Mesa's AgentSet of the StaffAgents, one per post (a view on the state arrays). Made on
        first use: registering 60,000 agents with Mesa costs about half a second, which runs of
        the vectorised engine never need."""
        if not self._staff_agents_made:
            self._staff_agents_made = True
            StaffAgent.create_agents(self, self.n_staff, index=list(range(self.n_staff)))
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], mesa.agent.AgentSet]:
        self.agents  # noqa: B018 (make them first)
        return super().agents_by_type

    # --- Mesa's data collection ------------------------------------------------------------
    @property
    def datacollector(self) -> mesa.DataCollector:
        """Mesa's DataCollector: the monthly city table as model reporters (one per column,
        `sim.run`) and the department table as the table "departments"; no per-agent records
        (its `get_agent_vars_dataframe` says how to get them). Made on first use and filled
        with the months run so far from the model's own recorder, then collected every month:
        runs that never ask for it (sweeps) do not pay for it."""
        if self._datacollector is None:
            dc = CityCollector(
                model_reporters=city_reporters(self.recorder),
                tables={"departments": list(DEPARTMENT_COLUMNS)},
            )
            for name, values in self.results().items():
                dc.model_vars[name] = values.tolist()
            deps = self.department_results()
            dc.tables["departments"] = {c: deps[c].tolist() for c in DEPARTMENT_COLUMNS}
            self._datacollector = dc
        return self._datacollector

    @datacollector.setter
    def datacollector(self, collector: mesa.DataCollector) -> None:
        """A DataCollector of your own, as Mesa models set one in `__init__` (e.g. with
        `agent_reporters={"tenure": "tenure", "abroad": "abroad"}`, StaffAgent attributes):
        collected at once (this month) and after every month, so do not call its `collect`
        yourself. A table "departments" in it gets the department rows."""
        if not isinstance(collector, mesa.DataCollector):
            raise ConfigError(
                f"datacollector = {type(collector).__name__}: must be a mesa.DataCollector"
            )
        self._datacollector = collector
        self.collect()

    def collect(self) -> None:
        """This month into the DataCollector, if one has been made."""
        dc = self._datacollector
        if dc is not None:
            dc.collect(self)
            if "departments" in dc.tables:
                for row in department_rows(self.recorder, self.month):
                    dc.add_table_row("departments", row, ignore_missing=True)

    # --- convenience (read-only) -------------------------------------------------------------
    @property
    def organisation(self) -> Organisation:
        return self.structure.organisation

    @property
    def ties(self) -> Ties:
        return self.structure.ties

    @property
    def catalogue(self) -> Catalogue:
        return self.structure.catalogue

    @property
    def n_staff(self) -> int:
        return self.structure.n_staff

    @property
    def cohort_ratio(self) -> float:
        """Simulated per real staff of the departments cohorts are drawn from."""
        return self.structure.cohort_ratio

    @property
    def totals(self) -> dict[str, float]:
        """Cumulative totals so far (`sim.state.TOTALS`)."""
        return self.ledger.totals

    def effective_capacity(self) -> np.ndarray:
        """float (n,): every person's absorptive capacity now (§7.1)."""
        return self.state.capacity(self.config.behavior.absorptive_gain)

    # --- the month --------------------------------------------------------------------------
    def step(self) -> None:
        """One month, in the six phases of docs/model.md §3; `running` turns False at the
        horizon, and a finished run refuses to step again."""
        if self.month >= self.config.horizon:
            raise FinishedError(
                f"the run has reached its horizon ({self.config.horizon} months) and cannot "
                "step again; build a model with a longer horizon"
            )
        self.month += 1
        self.run_program()  # 1. program: departures, expert visits, absence and costs
        self.take_snapshot()  # 2. snapshot
        self.staff_month()  # 3. staff month (engine)
        self.note_returns()
        self.rotate()  # 4. rotation (mutasi)
        self.update_departments()  # 5. departments
        self.record()  # 6. recording
        self.record_staff()
        self.collect()
        self.running = self.month < self.config.horizon

    def run_program(self) -> None:
        """Departures and visits due this month; real staff away and this month's cost."""
        program.run_month(
            self.month, self.config, self.state, self.structure, self.ledger, self.streams
        )
        org = self.organisation
        self.departments.absent = np.bincount(
            org.dept[self.state.abroad], minlength=org.n_departments
        )

    def take_snapshot(self) -> None:
        """Freeze start-of-month proficiency, presence, who shares and who coaches: every
        colleague is read from here."""
        self.snapshot = transfer.take_snapshot(
            self.state,
            self.ties,
            self.organisation.rank,
            self.config.behavior,
            self.config.colleague_channel,
            self.snapshot,
        )

    def staff_month(self) -> None:
        """Every staff member lives the month, by the configured engine."""
        parts = (
            self.state,
            self.snapshot,
            self.structure,
            self.departments,
            self.config.behavior,
            self.streams,
            self.ledger,
        )
        if self.config.engine == "reference":
            agents.staff_month(self.agents, *parts)
        else:
            engine.staff_month(*parts)

    def note_returns(self) -> None:
        """Staff who were in Tokyo at the start of the month and are home at its end came back
        this month: their return month is kept (for the returnee statistics)."""
        back = np.flatnonzero(~self.snapshot.home & ~self.state.abroad)
        self.state.returned[back] = self.month
        self.recorder.note_returns(self.month, back, self.state, self.structure)

    def rotate(self) -> None:
        """Mutasi: a share of staff at home swap posts with others of the same rank."""
        b = self.config.behavior
        if b.rotation_share <= 0 or self.month % b.rotation_interval:
            return
        s, rng, org = self.state, self.streams.rotation, self.organisation
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
            moved += float(self.structure.real_per_post[org.dept[changed]].sum())
        self.ledger.totals["rotations"] += moved

    def update_departments(self) -> None:
        """Adoption target, implementation step, SOP update and service quality."""
        institutions.update_departments(
            self.departments,
            self.state,
            self.structure,
            self.config.behavior,
            self.streams.institutions,
            self.config.sop_channel,
        )

    def record(self) -> None:
        """One row of the monthly tables."""
        self.recorder.record(
            self.month,
            self.state,
            self.structure,
            self.departments,
            self.ledger,
            self.coaching(),
        )

    def coaching(self) -> np.ndarray:
        """bool (n,): who coached this month (nobody before the first month)."""
        if self.snapshot is None:
            return np.zeros(self.state.n, dtype=bool)
        return self.snapshot.coach > 0

    def record_staff(self) -> None:
        every = self.config.record_staff_every
        if every and self.month % every == 0:
            self.staff_log.append(
                staff_snapshot(
                    self.month, self.state, self.structure, self.config.behavior.absorptive_gain
                )
            )

    # --- results ----------------------------------------------------------------------------
    def results(self):
        """pandas DataFrame, one row per month 0..current month (see sim.reporters)."""
        return self.recorder.frame(self.month)

    def staff_results(self):
        """Per-agent records (one row per staff member and recorded month); needs
        `record_staff_every` > 0, else an empty table."""
        if not self.staff_log:
            return pd.DataFrame()
        return pd.concat([pd.DataFrame(r) for r in self.staff_log], ignore_index=True)

    def returnee_results(self) -> pd.DataFrame:
        """Returnees k months after their return (see `Recorder.returnee_frame`)."""
        return self.recorder.returnee_frame(self.month)

    def run_statistics(self) -> dict[str, float]:
        """Run-level statistics of returnees and SOPs (see `Recorder.statistics`)."""
        return self.recorder.statistics()

    def department_results(self):
        """pandas DataFrame, one row per month and department (see Recorder.department_frame)."""
        return self.recorder.department_frame(self.month)

    def department_ties(self) -> pd.DataFrame:
        """Ties between departments as a list, one row per pair with any: department and
        other_department (ids; the first no later than the second in the departments table)
        and ties (staff ties between them; a department with itself: the ties inside it). A
        list, not a D x D table, so that 10,000 departments take megabytes, not gigabytes."""
        return department_tie_list(self.ties, self.organisation)

    def release(self) -> None:
        """Let Python free this model (Mesa 3.3.1 keeps every model alive in Agent._ids)."""
        mesa.Agent._ids.pop(self, None)


# --- construction -----------------------------------------------------------------------------
def department_tie_list(ties: Ties, org: Organisation) -> pd.DataFrame:
    """`ExchangeModel.department_ties` of any ties between the posts of `org`."""
    ids = np.asarray(org.department_ids, dtype=object)
    owner = np.repeat(np.arange(ties.n), ties.degree)
    a, b = org.dept[owner].astype(np.int64), org.dept[ties.indices].astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs, counts = np.unique(lo * org.n_departments + hi, return_counts=True)
    first, second = np.divmod(pairs, org.n_departments)
    # each tie is listed from both ends in `ties`: once per pair of its ends
    return pd.DataFrame(
        {"department": ids[first], "other_department": ids[second], "ties": counts // 2}
    )


def make_streams(seed: int) -> Streams:
    """The model's independent random streams (`STREAMS`), spawned from the seed."""
    sequences = np.random.SeedSequence(seed).spawn(len(STREAMS))
    generators = [np.random.default_rng(seq) for seq in sequences]
    return Streams(**dict(zip(STREAMS, generators, strict=True)))


@dataclass(frozen=True)
class City:
    """What construction builds from a configuration's city (scenario, network, behaviour: every
    setting but the program's) and a seed: the loaded inputs, the structure (program fields at
    their no-program values) and the initial staff. Runs of any program with this seed can reuse
    it (`ExchangeModel(config, seed, city)`); each copies the staff, nothing else is written.
    It holds the input files as they were when it was built."""

    key: str  # the configuration without its program, and the seed, it was built for
    inputs: Inputs
    structure: Structure
    staff: StaffState

    def check(self, config: ModelConfig, seed: int) -> None:
        """Refuse a configuration or seed this city was not built for."""
        if city_key(config, seed) != self.key:
            raise ConfigError(
                "city: built for another configuration (besides its program) or seed; build "
                "it with sim.build_city(config, seed)"
            )


def city_key(config: ModelConfig, seed: int) -> str:
    """The configuration without its program and channel switches (which build nothing), and
    the seed, as text (a City's identity)."""
    data = dataclasses.asdict(without_program(config))
    return json.dumps({"config": data, "seed": seed}, sort_keys=True)


def build_city(
    config: ModelConfig,
    seed: int,
    streams: Streams | None = None,
    inputs: Inputs | None = None,
) -> City:
    """Build the city of `config` (its program aside) with `seed`: the inputs (loaded unless
    given), the structure (`network` and `ranking` streams) and the initial staff (`init`
    stream)."""
    seed = _check_seed(seed)
    inputs = inputs if inputs is not None else prepare(config)
    streams = streams if streams is not None else make_streams(seed)
    structure = build_structure(config, inputs, streams)
    staff = initial_staff(config, structure, inputs, streams.init)
    return City(city_key(config, seed), inputs, structure, staff)


def without_program(config: ModelConfig) -> ModelConfig:
    """`config` with the default program and both channel switches on: what builds its city."""
    return dataclasses.replace(
        config, program=ProgramConfig(), colleague_channel=True, sop_channel=True
    )


def with_program(structure: Structure, program: ProgramConfig) -> Structure:
    """The structure with what the program settings fix: target departments (and the ratio of
    simulated to real staff among them) and the order of expert visits."""
    ids = structure.organisation.department_ids
    target_mask, pool = None, slice(None)
    if program.target_departments:
        target_mask = pool = np.isin(np.array(ids), program.target_departments)
    expert_order = structure.expert_order
    if program.expert_departments:
        expert_order = np.array([ids.index(x) for x in program.expert_departments])
    ratio = structure.headcount[pool].sum() / structure.full_headcount[pool].sum()
    return dataclasses.replace(
        structure, target_mask=target_mask, cohort_ratio=float(ratio), expert_order=expert_order
    )


def build_structure(config: ModelConfig, inputs: Inputs, streams: Streams) -> Structure:
    """The organisation (generated, or the roster's), its ties (`network` stream unless given),
    the catalogue and what is derived from them; brokers are ranked with the `ranking` stream.
    The program's fields take their no-program values (`with_program` sets them)."""
    sc, b = config.scenario, config.behavior
    deps, catalogue, bureaus = inputs.departments, inputs.catalogue, inputs.bureaus
    ids = list(deps["id"])
    if inputs.roster is not None:
        org = organisation_from_roster(deps, inputs.roster)
        staff_ids = inputs.roster.ids
    else:
        org = build_organisation(
            deps, sc.scale, sc.min_department_size, sc.section_span, sc.division_span
        )
        staff_ids = None
    domain_of_department = np.array([DOMAINS.index(d) for d in deps["domain"]])
    relevance = catalogue.relevance(ids, list(deps["domain"]))
    tacitness = rules.effective_tacitness(catalogue.tacitness, b.tacitness_scale)
    headcount = org.headcount
    full_headcount = org.departments["full_headcount"].to_numpy(dtype=float)
    rel_total = relevance.sum(axis=1, keepdims=True)
    service_weight = org.departments["weight"].to_numpy(dtype=float)
    domains, domain_matrix = domain_weights(service_weight, domain_of_department)
    side_keep = 1.0 - b.abroad_tacitness_weight * tacitness
    ties = (
        inputs.ties if inputs.ties is not None else build_ties(org, config.network, streams.network)
    )
    upward = None
    if b.mechanism == "threshold" and not ties.well_mixed:
        upward = transfer.upward_ties(ties, org.rank, b.power_distance)
    return Structure(
        organisation=org,
        ties=ties,
        catalogue=catalogue,
        bureaus=bureaus,
        staff_ids=staff_ids,
        taught=catalogue.taught(bureaus),
        bureau_of_department=np.array([bureaus.index(x) for x in deps["tokyo_bureau"]]),
        domain_of_department=domain_of_department,
        relevance=relevance,
        relevance_share=relevance / np.where(rel_total > 0, rel_total, 1.0),
        tacitness=tacitness,
        explicitness=1.0 - tacitness,
        explicitness_f32=(1.0 - tacitness).astype(np.float32),
        side_keep_f32=side_keep.astype(np.float32),
        reports=reports_of(org),
        authority_slot=authority_slots(org.rank),
        n_authority=int((org.rank >= 2).sum()),
        sop_threshold=np.clip(
            catalogue.institutionalisation * b.institutionalisation_scale, 0.0, 1.0
        ),
        headcount=headcount,
        full_headcount=full_headcount,
        simulated_per_real=headcount / full_headcount,
        real_per_post=full_headcount / headcount,
        real_staff=float(full_headcount.sum()),
        cohort_ratio=float(headcount.sum() / full_headcount.sum()),
        baseline_quality=org.departments["baseline_quality"].to_numpy(dtype=float),
        service_weight=service_weight,
        domains=domains,
        domain_weights=domain_matrix,
        expert_order=np.argsort(-service_weight, kind="stable"),
        target_mask=None,
        centrality=broker_order(ties, org, streams.ranking),
        upward_ties=upward,
        monthly_exit=float(rules.monthly_probability(b.turnover_rate)),
    )


def reports_of(org: Organisation) -> np.ndarray:
    """int32 (n,): how many people report to each post from within its department."""
    sup = org.supervisor
    inside = (sup >= 0) & (org.dept[np.maximum(sup, 0)] == org.dept)
    return np.bincount(sup[inside], minlength=org.n_staff).astype(np.int32)


def authority_slots(rank: np.ndarray) -> np.ndarray:
    """int32 (n,): division heads and heads numbered 0, 1, ... in post order; -1 elsewhere."""
    slot = np.full(rank.size, -1, dtype=np.int32)
    has = rank >= 2
    slot[has] = np.arange(int(has.sum()), dtype=np.int32)
    return slot


def broker_order(ties: Ties, org: Organisation, rng: np.random.Generator) -> np.ndarray:
    """float (n,): rank order of "most central" = brokers: most cross-department ties, then most
    ties, then at random."""
    cross = cross_department_ties(ties, org.dept)
    tiebreak = rng.random(ties.n)
    order = np.lexsort((tiebreak, ties.degree, cross))
    centrality = np.empty(ties.n)
    centrality[order] = np.arange(ties.n)
    return centrality


def initial_staff(
    config: ModelConfig, structure: Structure, inputs: Inputs, rng: np.random.Generator
) -> StaffState:
    """Proficiency around the practices' priors, capacity and willingness from their Beta laws,
    tenure uniform over 30 years (`init` stream); what a roster gives replaces the draws."""
    b, org, catalogue = config.behavior, structure.organisation, structure.catalogue
    n, n_pr = org.n_staff, catalogue.n
    mean = catalogue.prior[None, :] * b.initial_knowledge * structure.relevance[org.dept]
    proficiency = np.clip(mean * rng.uniform(0.0, 2.0, size=(n, n_pr)), 0.0, 1.0)
    state = StaffState(
        proficiency=proficiency.astype(np.float32),
        base_capacity=rules.draw_beta(rng, b.capacity_mean, b.capacity_sd, n).astype(np.float32),
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
        returned=np.full(n, -1, dtype=np.int16),
        trained=np.zeros(n, dtype=bool),
        sharing_left=np.zeros(n, dtype=np.int16),
    )
    roster = inputs.roster
    if roster is not None:  # what the roster gives replaces the draws (made all the same)
        state.tenure[:] = roster.tenure
        for given, target in ((roster.capacity, state.base_capacity),
                              (roster.willingness, state.willingness)):  # fmt: skip
            known = ~np.isnan(given)
            target[known] = given[known]
        for k, pid in enumerate(catalogue.ids):
            given = roster.proficiency[pid]
            known = ~np.isnan(given)
            state.proficiency[known, k] = given[known]
    return state
