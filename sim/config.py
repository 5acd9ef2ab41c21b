"""Model configuration: the schema of every setting, with defaults, units and ranges.

The dataclasses are plain Python (no Hydra needed to use the model); `sim.schema` registers the
same classes in Hydra's ConfigStore. `validate_config` checks ranges and raises `ConfigError` with a
one-line message naming the setting, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sim.errors import ConfigError

MECHANISMS = ("gap", "contagion", "threshold")
SELECTION_POLICIES = ("random", "capacity", "central", "managers", "targeted", "spread")
NETWORK_KINDS = ("organisation", "well_mixed")
ENGINES = ("vectorised", "reference")


@dataclass
class ScenarioConfig:
    """Which organisation and practice catalogue to build, and at what scale."""

    name: str = "jakarta"
    #: CSV of departments; None = the packaged Jakarta file (sim/data/departments.csv).
    departments_file: str | None = None
    #: YAML of practices; None = the packaged Tokyo catalogue (sim/data/practices.yaml).
    practices_file: str | None = None
    #: CSV of staff (id, department, rank, tenure, ...) replacing generated staff; None = generate.
    roster_file: str | None = None
    #: Edge list CSV (source, target, weight) or GraphML of ties between roster staff; None =
    #: generate ties. Needs a roster.
    ties_file: str | None = None
    #: Share of each department's full headcount to simulate, in (0, 1].
    scale: float = 1.0
    #: Smallest department after scaling (staff); at least 1.
    min_department_size: int = 5
    #: Staff per section head (span of control at the lowest level), >= 1.
    section_span: int = 10
    #: Section heads per division head, >= 1.
    division_span: int = 4
    #: Practice ids to simulate; empty = the whole catalogue.
    practices: list[str] = field(default_factory=list)


@dataclass
class NetworkConfig:
    """How work ties are generated (networkx, from the model's seeded generator)."""

    #: "organisation" (teams, supervisors, cross-department ties) or "well_mixed" (no ties:
    #: contacts uniform over all staff, the classic Bass/mean-field setting).
    kind: str = "organisation"
    #: Ring-lattice degree inside a department (Watts-Strogatz k), even, >= 2.
    team_neighbours: int = 8
    #: Watts-Strogatz rewiring probability of intra-department ties, in [0, 1].
    rewiring: float = 0.05
    #: Tie every person to their supervisor.
    supervisor_ties: bool = True
    #: Cross-department ties each manager (section head and above) starts, >= 0; managers also
    #: receive ties, so a manager's mean number of cross ties is about twice this.
    cross_ties_per_manager: float = 2.0
    #: Relative chance that a cross tie goes to a department listed as related, >= 0.
    related_affinity: float = 6.0
    #: Relative chance that a cross tie goes to another department of the same domain, >= 0.
    same_domain_affinity: float = 2.0
    #: Relative chance for any other department, >= 0.
    other_affinity: float = 0.5
    #: Tie strengths in (0, 1]: team (lattice), supervisor, cross-department.
    team_weight: float = 1.0
    supervisor_weight: float = 1.0
    cross_weight: float = 0.5


@dataclass
class ProgramConfig:
    """The exchange program: the policy levers (months are model steps, 1-based).

    Counts of people are real Jakarta staff at every `scenario.scale`: a cohort of 10 is 10 of
    the city's staff, and costs are real money. At scale < 1 the model sends the simulated
    equivalent (see `sim.program.scaled_group`).
    """

    #: Jakarta staff (real people) sent per cohort, >= 0 (0 = no exchange).
    cohort_size: int = 10
    #: Months from one cohort's departure to the next, >= 1 (12 = one cohort a year).
    months_between_cohorts: int = 12
    #: Months each cohort spends in Tokyo, >= 1 and < horizon.
    duration: int = 6
    #: Month of the first departure and of the first expert visit, >= 1.
    start: int = 1
    #: Last month a cohort may leave or an expert visit start; None = the horizon.
    end: int | None = None
    #: One of SELECTION_POLICIES.
    selection: str = "random"
    #: Department ids for the "targeted" policy (and to restrict any policy if non-empty).
    target_departments: list[str] = field(default_factory=list)
    #: Tokyo bureau id every trainee is placed in; None = the bureau matching their department.
    placement: str | None = None
    #: Minimum tenure to be eligible, months, >= 0.
    min_tenure: int = 24
    #: Exchanges a person may make in a career, >= 1.
    max_exchanges_per_person: int = 1
    #: Tokyo experts per visit, >= 0 (0 = no visits).
    experts_per_visit: int = 0
    #: Months from the start of one expert visit to the next, >= 1.
    months_between_expert_visits: int = 12
    #: Months each visit lasts, >= 1.
    expert_duration: int = 3
    #: Departments visited in turn; empty = all departments, highest service weight first.
    expert_departments: list[str] = field(default_factory=list)
    #: Jakarta staff (real people) trained per visiting expert, >= 1; up to half are the
    #: department's managers.
    trainees_per_expert: int = 10
    #: Cost of one real staff member's month in Tokyo (travel, allowance, host fee), IDR
    #: million, >= 0.
    cost_per_staff_month: float = 80.0
    #: Cost of one expert for one visit, IDR million, >= 0.
    cost_per_expert_visit: float = 250.0


@dataclass
class BehaviorConfig:
    """Learning, transfer, forgetting, turnover and institutionalisation rules."""

    #: Peer transfer mechanism, one of MECHANISMS.
    mechanism: str = "gap"
    #: Colleagues met per month, >= 1 (drawn from ties, weighted by tie strength).
    contacts_per_month: int = 3
    #: gap: share of the gap to a more proficient contact closed per month (all factors 1), [0, 1].
    transfer_rate: float = 0.5
    #: contagion/threshold: adoption probability per success opportunity, [0, 1].
    contagion_prob: float = 0.2
    #: threshold: share of ties (weighted) that must be proficient, [0, 1].
    threshold_share: float = 0.3
    #: Proficiency that counts as "proficient" (adoption), (0, 1].
    proficiency_threshold: float = 0.5
    #: Upward transfer (junior to senior) is multiplied by 1 - power_distance, [0, 1]
    #: (the well-mixed threshold rule counts everyone alike: it has no ties to weigh).
    power_distance: float = 0.4
    #: Multiplier on every practice's tacitness (clipped to [0, 1]), >= 0.
    tacitness_scale: float = 1.0
    #: Share of the remaining gap learnt per month in Tokyo at capacity 1, [0, 1].
    abroad_learning_rate: float = 0.4
    #: How much tacitness slows learning side by side (in Tokyo, or with a visiting expert), [0, 1].
    abroad_tacitness_weight: float = 0.3
    #: Share of the gap learnt per month from a visiting expert at capacity 1, [0, 1].
    expert_learning_rate: float = 0.4
    #: Mean and standard deviation of base absorptive capacity (Beta distributed), in [0, 1].
    capacity_mean: float = 0.5
    capacity_sd: float = 0.15
    #: Capacity multiplier per unit of mean prior proficiency (Cohen & Levinthal), >= 0.
    absorptive_gain: float = 1.0
    #: Mean and sd of willingness to share (Beta distributed), in [0, 1].
    willingness_mean: float = 0.6
    willingness_sd: float = 0.15
    #: Multiplier on the catalogue's starting proficiency (jakarta_prior), >= 0.
    initial_knowledge: float = 1.0
    #: Monthly loss share of proficiency of staff at home, reduced where the department
    #: implements the practice (use_protection) and where it is standard procedure, [0, 1].
    forgetting_rate: float = 0.01
    #: How much a department's implementation of a practice protects it from forgetting, [0, 1].
    use_protection: float = 0.5
    #: Forgetting multiplier once the practice is standard procedure, [0, 1].
    sop_forgetting_factor: float = 0.25
    #: Yearly exit probability of staff at home (replaced at once by a new hire), [0, 1].
    turnover_rate: float = 0.05
    #: Months between rotation rounds (mutasi), >= 1.
    rotation_interval: int = 12
    #: Share of staff at home rotated each round (within rank), [0, 1].
    rotation_share: float = 0.05
    #: Multiplier on every practice's institutionalisation threshold (clipped to [0, 1]), >= 0.
    institutionalisation_scale: float = 1.0
    #: Share of the way implementation moves toward its target each month, [0, 1].
    adoption_speed: float = 0.1
    #: Monthly decay share of implementation above its target, [0, 1].
    implementation_decay: float = 0.05
    #: Decay multiplier once standard procedure, [0, 1].
    sop_decay_factor: float = 0.2
    #: Weight of each rank level (staff, section heads, division heads, head) in a department's
    #: adoption target: the level's mean proficiency counts with this weight (normalised).
    leader_weights: list[float] = field(default_factory=lambda: [0.2, 0.3, 0.3, 0.2])
    #: New hires start at this share of the department's implementation of each SOP, [0, 1].
    new_hire_sop_level: float = 0.5
    #: Quality lost per unit share of a department's staff absent abroad, [0, 1]
    #: (0.25: colleagues cover about three quarters of an absent person's work).
    absence_penalty: float = 0.25


@dataclass
class ModelConfig:
    """Everything one model run needs besides its seed."""

    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    program: ProgramConfig = field(default_factory=ProgramConfig)
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    #: Months simulated, >= 1 (10 years by default).
    horizon: int = 120
    #: "vectorised" (default, numpy over state arrays) or "reference" (per-agent Mesa stepping).
    engine: str = "vectorised"
    #: Record every staff member's state every this many months (0 = never: aggregates only).
    record_staff_every: int = 0


#: Settings renamed since earlier versions: old name -> new name (named in the error message).
RENAMED = {
    "program.frequency": "program.months_between_cohorts",
    "program.expert_frequency": "program.months_between_expert_visits",
}


def renamed_hint(key: str) -> str:
    """'; renamed to <new>' when `key` is an old setting name, else ''."""
    new = RENAMED.get(key)
    return f"; renamed to {new}" if new else ""


_SECTIONS = {
    "scenario": ScenarioConfig,
    "network": NetworkConfig,
    "program": ProgramConfig,
    "behavior": BehaviorConfig,
}


def config_from_dict(data: dict[str, Any] | None) -> ModelConfig:
    """Build a ModelConfig from nested dicts (e.g. an OmegaConf container); unknown keys fail."""
    data = dict(data or {})
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            cls = _SECTIONS[key]
            if isinstance(value, cls):
                kwargs[key] = value
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{key} = {value!r}: must be a mapping of settings")
            names = {f.name for f in dataclasses.fields(cls)}
            for sub in value:
                if sub not in names:
                    raise ConfigError(
                        f"{key}.{sub}: unknown setting{renamed_hint(f'{key}.{sub}')}; "
                        f"allowed: {', '.join(sorted(names))}"
                    )
            kwargs[key] = cls(**{k: _plain(v) for k, v in value.items()})
        elif key in ("horizon", "engine", "record_staff_every"):
            kwargs[key] = value
        else:
            allowed = ", ".join([*_SECTIONS, "horizon", "engine", "record_staff_every"])
            raise ConfigError(f"{key}: unknown setting; allowed: {allowed}")
    return ModelConfig(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """Nested plain dict of a ModelConfig (for saving next to results)."""
    return dataclasses.asdict(config)


# --- validation -------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def _int_at_least(key: str, v: Any, low: int) -> None:
    if not _is_int(v) or v < low:
        what = "a non-negative integer" if low == 0 else f"an integer >= {low}"
        raise ConfigError(f"{key} = {v!r}: must be {what}")


def _share(key: str, v: Any) -> None:
    if not _is_num(v) or not 0.0 <= v <= 1.0:
        raise ConfigError(f"{key} = {v!r}: must be a number in [0, 1]")


def _num_at_least(key: str, v: Any, low: float, strict: bool = False) -> None:
    ok = _is_num(v) and (v > low if strict else v >= low)
    if not ok:
        raise ConfigError(f"{key} = {v!r}: must be a number {'>' if strict else '>='} {low}")


def _choice(key: str, v: Any, allowed: tuple[str, ...]) -> None:
    if v not in allowed:
        raise ConfigError(f"{key} = {v!r}: unknown name; allowed: {', '.join(allowed)}")


def _str_list(key: str, v: Any) -> None:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{key} = {v!r}: must be a list of names")


def _beta_moments(prefix: str, mean: float, sd: float) -> None:
    _num_at_least(f"{prefix}_sd", sd, 0.0)
    if not 0.0 < mean < 1.0 and sd > 0:
        raise ConfigError(f"{prefix}_mean = {mean!r}: must be in (0, 1) when {prefix}_sd > 0")
    if sd > 0 and sd**2 >= mean * (1 - mean):
        limit = math.sqrt(mean * (1 - mean))
        raise ConfigError(
            f"{prefix}_sd = {sd!r}: must be below sqrt(mean*(1-mean)) = {limit:.3f} for a Beta law"
        )


def validate_config(config: ModelConfig) -> ModelConfig:
    """Check every setting that does not need the data files; return the config unchanged."""
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config = {type(config).__name__}: must be a sim.ModelConfig")
    _int_at_least("horizon", config.horizon, 1)
    _choice("engine", config.engine, ENGINES)
    _int_at_least("record_staff_every", config.record_staff_every, 0)

    s = config.scenario
    if not isinstance(s.name, str) or not s.name:
        raise ConfigError(f"scenario.name = {s.name!r}: must be a non-empty string")
    if not _is_num(s.scale) or not 0.0 < s.scale <= 1.0:
        raise ConfigError(f"scenario.scale = {s.scale!r}: must be a number in (0, 1]")
    _int_at_least("scenario.min_department_size", s.min_department_size, 1)
    _int_at_least("scenario.section_span", s.section_span, 1)
    _int_at_least("scenario.division_span", s.division_span, 1)
    _str_list("scenario.practices", s.practices)
    if s.ties_file is not None and s.roster_file is None:
        raise ConfigError(
            f"scenario.ties_file = {s.ties_file!r}: ties name staff ids, so they need "
            "scenario.roster_file"
        )
    if s.roster_file is not None and s.scale != 1.0:
        raise ConfigError(
            f"scenario.scale = {s.scale!r}: a roster is simulated as it is; allowed with a "
            "roster: 1.0"
        )
    for key in ("departments_file", "practices_file", "roster_file", "ties_file"):
        v = getattr(s, key)
        if v is not None and (not isinstance(v, str) or not v):
            raise ConfigError(f"scenario.{key} = {v!r}: must be a file path or null")

    n = config.network
    _choice("network.kind", n.kind, NETWORK_KINDS)
    _int_at_least("network.team_neighbours", n.team_neighbours, 2)
    if n.team_neighbours % 2:
        raise ConfigError(f"network.team_neighbours = {n.team_neighbours}: must be even")
    _share("network.rewiring", n.rewiring)
    if not isinstance(n.supervisor_ties, bool):
        raise ConfigError(f"network.supervisor_ties = {n.supervisor_ties!r}: must be true or false")
    _num_at_least("network.cross_ties_per_manager", n.cross_ties_per_manager, 0.0)
    for key in ("related_affinity", "same_domain_affinity", "other_affinity"):
        _num_at_least(f"network.{key}", getattr(n, key), 0.0)
    for key in ("team_weight", "supervisor_weight", "cross_weight"):
        v = getattr(n, key)
        if not _is_num(v) or not 0.0 < v <= 1.0:
            raise ConfigError(f"network.{key} = {v!r}: must be a number in (0, 1]")

    p = config.program
    _int_at_least("program.cohort_size", p.cohort_size, 0)
    _int_at_least("program.months_between_cohorts", p.months_between_cohorts, 1)
    _int_at_least("program.duration", p.duration, 1)
    if p.duration >= config.horizon:
        raise ConfigError(
            f"program.duration = {p.duration}: must be shorter than horizon = {config.horizon}"
        )
    _int_at_least("program.start", p.start, 1)
    if p.end is not None:
        _int_at_least("program.end", p.end, 1)
        if p.end < p.start:
            raise ConfigError(f"program.end = {p.end}: must be >= program.start = {p.start}")
    _choice("program.selection", p.selection, SELECTION_POLICIES)
    _str_list("program.target_departments", p.target_departments)
    if p.selection == "targeted" and not p.target_departments:
        raise ConfigError(
            "program.target_departments = []: the 'targeted' policy needs at least one department"
        )
    if p.placement is not None and not isinstance(p.placement, str):
        raise ConfigError(f"program.placement = {p.placement!r}: must be a Tokyo bureau id or null")
    _int_at_least("program.min_tenure", p.min_tenure, 0)
    _int_at_least("program.max_exchanges_per_person", p.max_exchanges_per_person, 1)
    _int_at_least("program.experts_per_visit", p.experts_per_visit, 0)
    _int_at_least("program.months_between_expert_visits", p.months_between_expert_visits, 1)
    _int_at_least("program.expert_duration", p.expert_duration, 1)
    _str_list("program.expert_departments", p.expert_departments)
    _int_at_least("program.trainees_per_expert", p.trainees_per_expert, 1)
    _num_at_least("program.cost_per_staff_month", p.cost_per_staff_month, 0.0)
    _num_at_least("program.cost_per_expert_visit", p.cost_per_expert_visit, 0.0)

    b = config.behavior
    _choice("behavior.mechanism", b.mechanism, MECHANISMS)
    _int_at_least("behavior.contacts_per_month", b.contacts_per_month, 1)
    for key in (
        "transfer_rate",
        "contagion_prob",
        "threshold_share",
        "power_distance",
        "abroad_learning_rate",
        "abroad_tacitness_weight",
        "expert_learning_rate",
        "forgetting_rate",
        "use_protection",
        "sop_forgetting_factor",
        "turnover_rate",
        "rotation_share",
        "adoption_speed",
        "implementation_decay",
        "sop_decay_factor",
        "new_hire_sop_level",
        "absence_penalty",
        "capacity_mean",
        "willingness_mean",
    ):
        _share(f"behavior.{key}", getattr(b, key))
    if not _is_num(b.proficiency_threshold) or not 0.0 < b.proficiency_threshold <= 1.0:
        raise ConfigError(
            f"behavior.proficiency_threshold = {b.proficiency_threshold!r}: must be in (0, 1]"
        )
    _num_at_least("behavior.tacitness_scale", b.tacitness_scale, 0.0)
    _num_at_least("behavior.institutionalisation_scale", b.institutionalisation_scale, 0.0)
    _num_at_least("behavior.absorptive_gain", b.absorptive_gain, 0.0)
    _num_at_least("behavior.initial_knowledge", b.initial_knowledge, 0.0)
    _int_at_least("behavior.rotation_interval", b.rotation_interval, 1)
    _beta_moments("behavior.capacity", b.capacity_mean, b.capacity_sd)
    _beta_moments("behavior.willingness", b.willingness_mean, b.willingness_sd)
    lw = b.leader_weights
    if (
        not isinstance(lw, list)
        or len(lw) != 4
        or not all(_is_num(x) and x >= 0 for x in lw)
        or sum(lw) <= 0
    ):
        raise ConfigError(
            f"behavior.leader_weights = {lw!r}: must be 4 non-negative numbers "
            "(staff, section head, division head, head) with a positive sum"
        )
    return config
