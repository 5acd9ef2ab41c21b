"""Model configuration: every setting declared once, with its default, unit, range and source.

Each field is a `sim.settings.setting(default, unit, allowed, source)`: `validate_config` checks
the ranges from these declarations (then the few rules between settings, `RELATIONS` below) and
raises `ConfigError` with a one-line message naming the setting, the bad value and what is
allowed; the parameter tables of docs/model.md §9 are generated from the same declarations
(`.venv/bin/python docs/settings_tables.py docs/model.md`). The dataclasses are plain Python (no
Hydra needed to use the model); `experiments.study.settings.register` puts the same classes, with
the run-level settings, in Hydra's ConfigStore.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.errors import ConfigError
from sim.settings import (
    boolean,
    check,
    integer,
    interval,
    name_or_null,
    names,
    number,
    one_of,
    optional,
    path_or_null,
    setting,
    share,
    text,
)

MECHANISMS = ("gap", "contagion", "threshold")
#: Who goes: each name is a policy `select_<name>` of sim/program.py (`program.POLICIES`).
SELECTION_POLICIES = ("random", "capacity", "central", "managers", "targeted", "spread")
NETWORK_KINDS = ("organisation", "well_mixed")
ENGINES = ("vectorised", "reference")
#: Upper bounds that keep a run within a machine's reach (docs/model.md §9 lists every bound).
MAX_MONTHS = 1200  # 100 years: any month count or horizon
MAX_STAFF = 10**7  # staff in one group: a cohort, a department after scaling
MAX_TIES = 1000  # ties or contacts per person
MAX_WEIGHT = 1e6  # relative weights, multipliers and costs (IDR million): finite sums


@dataclass
class ScenarioConfig:
    """Which organisation and practice catalogue to build, and at what scale."""

    #: Name of the scenario.
    name: str = setting("jakarta", "label", text(), "label only; not used by the rules")
    #: CSV of departments; None = the packaged Jakarta file.
    departments_file: str | None = setting(
        None, "path", path_or_null(), "§6; null = `sim/data/departments.csv`"
    )
    #: YAML of practices; None = the packaged Tokyo catalogue.
    practices_file: str | None = setting(
        None, "path", path_or_null(), "§6; null = `sim/data/practices.yaml`"
    )
    #: CSV of staff (id, department, rank, tenure, ...) replacing generated staff; None = generate.
    roster_file: str | None = setting(
        None,
        "path",
        path_or_null(),
        "README, *Bring your own organisation*; null = generated staff",
    )
    #: Edge list CSV (source, target, weight) or GraphML of ties between roster staff; None =
    #: generate ties.
    ties_file: str | None = setting(
        None,
        "path",
        path_or_null(),
        "README, *Bring your own organisation*: ties name roster staff ids; null = generated ties",
        also="; needs `roster_file`",
    )
    #: Share of each department's full headcount to simulate.
    scale: float = setting(
        1.0,
        "share of full headcount",
        interval(0.0, 1.0, open_low=True),
        "1.0 = 60,000 staff: 63,700 PNS (2019), 52,900 ASN (2025)",
        also="; 1.0 with a roster (simulated as it is)",
    )
    #: Smallest department after scaling.
    min_department_size: int = setting(
        5,
        "staff",
        integer(1, MAX_STAFF),
        "assumption: keeps head, division head, section head and 2 staff at small scales",
    )
    #: Staff per section head (span of control at the lowest level).
    section_span: int = setting(
        10, "staff per section head", integer(1, MAX_STAFF), "assumption: sections of about ten"
    )
    #: Section heads per division head.
    division_span: int = setting(
        4, "sections per division", integer(1, MAX_STAFF), "assumption: typical span of a division"
    )
    #: Practice ids to simulate; empty = the whole catalogue.
    practices: list[str] = setting(
        [], "practice ids", names(), "empty = the whole catalogue", also="; known ids, no repeats"
    )


@dataclass
class NetworkConfig:
    """How work ties are generated (networkx, from the model's seeded generator)."""

    #: "organisation" (teams, supervisors, cross-department ties) or "well_mixed" (no ties:
    #: contacts uniform over all staff, the classic Bass/mean-field setting).
    kind: str = setting(
        "organisation", None, one_of(NETWORK_KINDS), "`well_mixed` = Bass/mean-field limit"
    )
    #: Ring-lattice degree inside a department (Watts-Strogatz k).
    team_neighbours: int = setting(
        8,
        "ties",
        integer(2, MAX_TIES),
        "assumption: a person knows about eight nearby colleagues, about one section",
        also="and even",
    )
    #: Watts-Strogatz rewiring probability of intra-department ties.
    rewiring: float = setting(
        0.05,
        "probability",
        share(),
        "assumption: small-world regime (Watts–Strogatz; Cowan & Jonard 2004 find diffusion best "
        "near 10%)",
    )
    #: Tie every person to their supervisor.
    supervisor_ties: bool = setting(
        True, None, boolean(), "assumption: everyone works with their supervisor"
    )
    #: Cross-department ties each manager (section head and above) starts; managers also
    #: receive ties, so a manager's mean number of cross ties is about twice this.
    cross_ties_per_manager: float = setting(
        2.0,
        "ties initiated per manager",
        interval(0.0, MAX_TIES),
        "assumption: managers coordinate with a few other departments (realised ≈ 4 per "
        "manager, §5)",
    )
    #: Relative chance that a cross tie goes to a department listed as related.
    related_affinity: float = setting(
        6.0,
        "relative weight",
        interval(0.0, MAX_WEIGHT),
        "assumption: most cross ties go to related departments",
    )
    #: Relative chance that a cross tie goes to another department of the same domain.
    same_domain_affinity: float = setting(
        2.0, "relative weight", interval(0.0, MAX_WEIGHT), "assumption"
    )
    #: Relative chance for any other department.
    other_affinity: float = setting(0.5, "relative weight", interval(0.0, MAX_WEIGHT), "assumption")
    #: Tie strengths: team (lattice), supervisor, cross-department.
    team_weight: float = setting(
        1.0, "tie strength", interval(0.0, 1.0, open_low=True), "assumption: daily contact"
    )
    supervisor_weight: float = setting(
        1.0, "tie strength", interval(0.0, 1.0, open_low=True), "assumption: daily contact"
    )
    cross_weight: float = setting(
        0.5, "tie strength", interval(0.0, 1.0, open_low=True), "assumption: occasional contact"
    )


@dataclass
class ProgramConfig:
    """The exchange program: the policy levers (months are model steps, 1-based).

    Counts of people are real Jakarta staff at every `scenario.scale`: a cohort of 10 is 10 of
    the city's staff, and costs are real money. At scale < 1 the model sends the simulated
    equivalent (see `sim.program.scaled_group`).
    """

    #: Jakarta staff (real people) sent per cohort (0 = no exchange).
    cohort_size: int = setting(
        10,
        "Jakarta staff (real people) per cohort",
        integer(0, MAX_STAFF),
        "lever; no public source gives it; Tokyo's Asian Youth Engineers programme took at most "
        "about 30 a year from three cities; a cohort larger than the staff it is drawn from "
        "sends all of them",
    )
    #: Months from one cohort's departure to the next (12 = one cohort a year).
    months_between_cohorts: int = setting(
        12, "months", integer(1, MAX_MONTHS), "lever; assumption: one cohort a year (12)"
    )
    #: Months each cohort spends in Tokyo.
    duration: int = setting(
        6,
        "months",
        integer(1, MAX_MONTHS),
        "lever; CLAIR places foreign local officials for 6–12 months",
        also="and < horizon",
    )
    #: Month of the first departure and of the first expert visit.
    start: int = setting(
        1,
        "month",
        integer(1, MAX_MONTHS),
        "first departure and first expert visit",
        also="and ≤ horizon when anyone is sent",
    )
    #: Last month a cohort may leave or an expert visit start; None = the horizon.
    end: int | None = setting(
        None,
        "month",
        optional(integer(1, MAX_MONTHS)),
        "null = horizon; also ends expert visits",
        also="and ≥ start",
    )
    #: How the cohort is chosen.
    selection: str = setting("random", None, one_of(SELECTION_POLICIES), "lever")
    #: Department ids for the "targeted" policy (and to restrict any policy if non-empty).
    target_departments: list[str] = setting(
        [],
        "department ids",
        names(),
        "lever",
        also="; known ids, non-empty if `targeted`",
    )
    #: Tokyo bureau every trainee is placed in; None = the bureau matching their department.
    placement: str | None = setting(
        None,
        "bureau id",
        name_or_null("a Tokyo bureau id"),
        "lever; null = department's counterpart bureau",
        also="from the catalogue",
    )
    #: Minimum tenure to be eligible.
    min_tenure: int = setting(
        24, "months", integer(0, MAX_MONTHS), "assumption: two years of service before going abroad"
    )
    #: Exchanges a person may make in a career.
    max_exchanges_per_person: int = setting(
        1, "exchanges", integer(1, MAX_MONTHS), "assumption: once per career, to spread places"
    )
    #: Tokyo experts per visit (0 = no visits).
    experts_per_visit: int = setting(0, "experts", integer(0, MAX_STAFF), "lever; 0 = no visits")
    #: Months from the start of one expert visit to the next.
    months_between_expert_visits: int = setting(
        12, "months", integer(1, MAX_MONTHS), "lever; assumption: one visit a year"
    )
    #: Months each visit lasts.
    expert_duration: int = setting(
        3, "months", integer(1, MAX_MONTHS), "lever; assumption: a short advisory mission"
    )
    #: Departments visited in turn; empty = all departments, highest service weight first.
    expert_departments: list[str] = setting(
        [],
        "department ids",
        names(),
        "lever; empty = all, highest weight first",
        also="; known ids",
    )
    #: Jakarta staff (real people) trained per visiting expert; up to half are the department's
    #: managers.
    trainees_per_expert: int = setting(
        10,
        "Jakarta staff (real people)",
        integer(1, MAX_STAFF),
        "assumption: one expert coaches a section-size group",
    )
    #: Cost of one real staff member's month in Tokyo (travel, allowance, host fee).
    cost_per_staff_month: float = setting(
        80.0,
        "IDR million per real staff-month",
        interval(0.0, MAX_WEIGHT),
        "assumption: travel, living allowance and host fee per month",
    )
    #: Cost of one expert for one visit.
    cost_per_expert_visit: float = setting(
        250.0,
        "IDR million per expert",
        interval(0.0, MAX_WEIGHT),
        "assumption: travel, fees and stay of one expert",
    )


@dataclass
class BehaviorConfig:
    """Learning, transfer, forgetting, turnover and institutionalisation rules."""

    #: Peer transfer mechanism.
    mechanism: str = setting(
        "gap",
        None,
        one_of(MECHANISMS),
        "gradual learning; contagion = Bass; threshold = Centola & Macy",
    )
    #: Colleagues met per month (drawn from ties, weighted by tie strength).
    contacts_per_month: int = setting(
        3,
        "contacts",
        integer(1, MAX_TIES),
        "assumption: a few work conversations about practice a month",
    )
    #: gap: share of the gap to a more proficient contact closed per conversation (all factors
    #: 1); each of the month's contacts closes its share of what is left, so more contacts mean
    #: more exposure.
    transfer_rate: float = setting(
        0.5,
        "share of gap per conversation",
        share(),
        "assumption: casual conversation about work; with use-dependent forgetting it alone "
        "does not make colleagues proficient (§7.4)",
        plausible=(0.2, 0.8),
    )
    #: contagion/threshold: adoption probability per success opportunity.
    contagion_prob: float = setting(
        0.2,
        "probability",
        share(),
        r"assumption; Bass limit $q \approx M\beta$ (typical $q$ 0.38, Sultan et al. 1990)",
    )
    #: threshold: share of ties (weighted) that must be proficient.
    threshold_share: float = setting(
        0.3,
        "share of tie weight",
        share(),
        "assumption; complex contagion needs several proficient ties (Centola & Macy 2007)",
    )
    #: Proficiency that counts as "proficient" (adoption).
    proficiency_threshold: float = setting(
        0.5,
        "proficiency",
        number(),
        "assumption: half of full proficiency counts as adoption",
        also="in (0, 1]",
    )
    #: Upward transfer (junior to senior) is multiplied by 1 - power_distance (the well-mixed
    #: threshold rule counts everyone alike: it has no ties to weigh).
    power_distance: float = setting(
        0.4,
        "damping of upward transfer",
        share(),
        "Hofstede: Indonesia 78 (high), Japan 54; the value 0.4 is an assumption",
        plausible=(0.1, 0.7),
    )
    #: Multiplier on every practice's tacitness (clipped to [0, 1]).
    tacitness_scale: float = setting(
        1.0,
        "multiplier",
        interval(0.0, MAX_WEIGHT),
        "Szulanski 1996 stickiness; 0 = fully explicit",
        plausible=(0.5, 1.5),
    )
    #: Share of the remaining gap learnt per month in Tokyo at capacity 1.
    abroad_learning_rate: float = setting(
        0.23,
        "share of gap per month",
        share(),
        "calibrated (§11): posterior median 0.23, 90% interval 0.19–0.27, of the packaged "
        "calibration to how trainees' use of training decays (Saks & Belcourt 2006); a 6-month "
        "stay then closes about half of the gap for an average trainee (§7.2)",
        plausible=(0.1, 0.6),
    )
    #: How much tacitness slows learning side by side (in Tokyo, or with a visiting expert).
    abroad_tacitness_weight: float = setting(
        0.3,
        None,
        share(),
        "SECI: side-by-side work transfers tacit knowledge; the value is an assumption",
        plausible=(0.1, 0.5),
    )
    #: Learning with a visiting expert, as a multiple of the rate of learning in Tokyo.
    expert_learning_factor: float = setting(
        1.0,
        "multiple of abroad_learning_rate",
        share(),
        "assumption: the same side-by-side learning as in Tokyo (SECI socialisation); trainees "
        "keep their jobs (slower) but learn on their own cases (no gap between Tokyo and Jakarta "
        "conditions, a barrier JICA ex-participants name: Shimomura & Nakamura 2013)",
        plausible=(0.5, 1.0),
    )
    #: Mean and standard deviation of base absorptive capacity (Beta distributed).
    capacity_mean: float = setting(
        0.5,
        None,
        share(),
        "Cohen & Levinthal 1990; value an assumption",
        also="; (0, 1) if `capacity_sd` > 0",
        plausible=(0.35, 0.65),
    )
    capacity_sd: float = setting(
        0.15,
        None,
        interval(0.0, MAX_WEIGHT),
        "assumption",
        also=r"; if > 0 below $\sqrt{\mu(1-\mu)}$",
    )
    #: Capacity multiplier per unit of mean prior proficiency (Cohen & Levinthal).
    absorptive_gain: float = setting(
        1.0,
        "per unit mean proficiency",
        interval(0.0, MAX_WEIGHT),
        "Cohen & Levinthal 1990; value an assumption",
        plausible=(0.0, 2.0),
    )
    #: Mean and sd of willingness to share (Beta distributed): it weighs what a person passes on
    #: in conversation, and is the chance that they coach after program training.
    willingness_mean: float = setting(
        0.6,
        None,
        share(),
        "about 60% of returnees share: 77% of returning managers say they could share with "
        "colleagues (den Teuling, p. 168, self-reported: an upper bound); Indonesian civil "
        "servants share little without a service need (Fauzan et al. 2022); fewer than half of "
        "returnees implement what they learnt (Wang)",
        also="; (0, 1) if `willingness_sd` > 0",
        plausible=(0.4, 0.8),
    )
    willingness_sd: float = setting(
        0.15,
        None,
        interval(0.0, MAX_WEIGHT),
        "assumption",
        also=r"; if > 0 below $\sqrt{\mu(1-\mu)}$",
    )
    #: Multiplier on the catalogue's starting proficiency (jakarta_prior).
    initial_knowledge: float = setting(
        1.0,
        "multiplier on priors",
        interval(0.0, MAX_WEIGHT),
        "scenario multiplier on the catalogue's `jakarta_prior`",
    )
    #: Monthly loss share of a skill that is not in use (staff at home).
    forgetting_rate: float = setting(
        0.06,
        "share per month",
        share(),
        "Tatel & Ackerman (2025) meta-analysis of procedural skill decay: without use half of "
        "a gain is lost after about 6.5–13 months (0.10–0.05 a month; 11 months, 0.06, for mixed "
        "measures); Arthur et al. (1998): d = −1.4 after a year of non-use",
        plausible=(0.05, 0.1),
    )
    #: Monthly loss share of a skill in use: the person's unit follows the practice (a champion
    #: directs it, or it is standard procedure) or they coach or are coached in it this month.
    forgetting_in_use: float = setting(
        0.005,
        "share per month",
        share(),
        "assumption: skills in use are kept (decay is a matter of non-use: Arthur et al. 1998, "
        "Tatel & Ackerman 2025); no published rate for skills in regular use",
        plausible=(0.0, 0.02),
    )
    #: Months after finishing program training (in Tokyo or with an expert) during which a
    #: person who shares (with probability their willingness) coaches their work ties in what
    #: they are proficient in.
    sharing_months: int = setting(
        6,
        "months",
        integer(0, MAX_MONTHS),
        "assumption (plausible 3–12): a report is due within two weeks of official travel "
        "abroad (Kemensetneg circular 2024); no rule found that sets a duty to coach; 0 = no "
        "deliberate sharing",
    )
    #: Share of the gap to the coach closed per month of coaching at all factors 1 (capacity,
    #: tie strength, 1 − weight × tacitness).
    coaching_rate: float = setting(
        0.45,
        "share of gap per month",
        share(),
        "set so that an average team-mate coached for six months closes about 75% of the gap to "
        "the coach (§7.4): cascade training passes on about three quarters of what the trainer "
        "knows (practitioner estimate, low confidence; Smith 2008); 85–88% of second-generation "
        "learners gain usable knowledge (Yarber et al. 2015)",
        plausible=(0.2, 0.8),
    )
    #: Share of the gap to full proficiency learnt per month on the job where a practice is
    #: standard procedure (and by a champion in what they champion), at capacity 1 for a fully
    #: explicit practice.
    practice_learning_rate: float = setting(
        0.03,
        "share of gap per month",
        share(),
        "rolling a standard out to a whole organisation takes years: Tanzania's 5S-KAIZEN "
        "national guideline (2009) was rolled out to hospitals over the following years (3rd "
        "edition 2013); Surabaya's composting programme took about five years to its city-wide "
        "effect (Takakura & Shirai 2016); 0.03 brings an average person from a prior of 0.15 to "
        "proficiency in about four years (§7.5)",
        plausible=(0.01, 0.1),
    )
    #: Yearly exit probability of staff at home (replaced at once by a new hire).
    turnover_rate: float = setting(
        0.05,
        "probability per year",
        share(),
        "assumption: retirement after ~30-year careers plus other exits; depreciation rises with "
        "turnover (Argote)",
        plausible=(0.02, 0.1),
    )
    #: Months between rotation rounds (mutasi).
    rotation_interval: int = setting(
        12, "months", integer(1, MAX_MONTHS), "assumption: a yearly mutasi round"
    )
    #: Share of staff at home rotated each round (within rank).
    rotation_share: float = setting(
        0.05, "share of candidates", share(), "assumption", plausible=(0.0, 0.15)
    )
    #: Multiplier on every practice's institutionalisation threshold (clipped to [0, 1]).
    institutionalisation_scale: float = setting(
        1.0,
        "multiplier",
        interval(0.0, MAX_WEIGHT),
        "sensitivity lever: scales every practice's institutionalisation threshold (clipped to "
        "[0, 1]); 1 = catalogue values",
        plausible=(0.7, 1.3),
    )
    #: Share of the way implementation moves toward its target each month.
    adoption_speed: float = setting(
        0.1,
        "share per month",
        share(),
        "assumption: half-way to target in ≈ 6.6 months",
        plausible=(0.05, 0.2),
    )
    #: Monthly decay share of implementation above its target.
    implementation_decay: float = setting(
        0.05,
        "share per month",
        share(),
        "assumption: half-life ≈ 13.5 months",
        plausible=(0.02, 0.1),
    )
    #: Decay multiplier once standard procedure.
    sop_decay_factor: float = setting(
        0.2,
        "multiplier",
        share(),
        "assumption: SOP half-life ≈ 69 months",
        plausible=(0.1, 0.5),
    )
    #: Monthly probability that a department makes a practice standard procedure once a
    #: champion with authority (its head or a division head) is at home and implementation has
    #: reached the practice's institutionalisation threshold.
    sop_adoption_rate: float = setting(
        1 / 12,
        "probability per month",
        share(),
        "about 2 years from a pilot to a written standard in two documented cases (Jakarta's "
        "one-stop service: idea Oct 2012, Perda 12/2013, launch Jan 2015; Tanzania's "
        "5S-KAIZEN after JICA training: pilot 2007, national guideline 2009): about a year to "
        "reach the threshold and a mean of 12 months to decide (§7.11)",
        plausible=(1 / 24, 1 / 6),
    )
    #: New hires start at this share of the department's implementation of each SOP.
    new_hire_sop_level: float = setting(
        0.5,
        "share of implementation",
        share(),
        "assumption: induction teaches SOPs partly",
        plausible=(0.25, 0.75),
    )
    #: Quality lost per unit share of a department's staff absent abroad.
    absence_penalty: float = setting(
        0.25,
        "quality per unit absent share",
        share(),
        "assumption: colleagues cover about three quarters of an absent person's work",
        plausible=(0.0, 0.5),
    )


@dataclass
class ModelConfig:
    """Everything one model run needs besides its seed."""

    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    program: ProgramConfig = field(default_factory=ProgramConfig)
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    #: Months simulated (10 years by default).
    horizon: int = setting(
        120,
        "months",
        integer(1, MAX_MONTHS),
        "assumption: 10 years covers several cohorts and turnover",
    )
    #: "vectorised" (numpy over state arrays) or "reference" (per-agent Mesa stepping).
    engine: str = setting(
        "vectorised",
        None,
        one_of(ENGINES),
        "same rules; reference is per-agent and slower",
    )
    #: Record every staff member's state every this many months (0 = never: aggregates only).
    record_staff_every: int = setting(
        0,
        "months",
        integer(0, MAX_MONTHS),
        "observation only: 0 records aggregates only; k > 0 also records every staff member's "
        "state every k months (`ExchangeModel.staff_results()`)",
    )
    #: Channel switch: staff trained by the program pass what they learnt on to colleagues
    #: (coaching and conversation). False only in the counterfactual runs that decompose a
    #: gain (`sim.pairing`): the trained then teach nobody.
    colleague_channel: bool = setting(
        True,
        None,
        boolean(),
        "decomposition switch (§7.15): false = the trained pass nothing on to colleagues",
    )
    #: Channel switch: departments may make practices standard procedure. False only in the
    #: counterfactual runs that decompose a gain: no SOP is ever adopted.
    sop_channel: bool = setting(
        True,
        None,
        boolean(),
        "decomposition switch (§7.15): false = no department adopts a standard procedure",
    )


#: Settings renamed since earlier versions: old name -> new name (named in the error message).
RENAMED = {
    "program.frequency": "program.months_between_cohorts",
    "program.expert_frequency": "program.months_between_expert_visits",
}

#: Settings removed since earlier versions: old name -> what replaced it (in the error message).
REMOVED = {
    "behavior.use_protection": "forgetting now depends on use: behavior.forgetting_in_use",
    "behavior.sop_forgetting_factor": (
        "a standard procedure protects by putting the practice in use: behavior.forgetting_in_use"
    ),
    "behavior.leader_weights": (
        "implementation now follows champions' authority (docs/model.md §7.10)"
    ),
    "behavior.expert_learning_rate": (
        "replaced by behavior.expert_learning_factor (a multiple of abroad_learning_rate)"
    ),
}


def renamed_hint(key: str) -> str:
    """'; renamed to <new>' when `key` is an old setting name, '; removed: <why>' when it was
    removed, else ''."""
    new = RENAMED.get(key)
    if new:
        return f"; renamed to {new}"
    gone = REMOVED.get(key)
    return f"; removed: {gone}" if gone else ""


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
            known = {f.name for f in dataclasses.fields(cls)}
            for sub in value:
                if sub not in known:
                    raise ConfigError(
                        f"{key}.{sub}: unknown setting{renamed_hint(f'{key}.{sub}')}; "
                        f"allowed: {', '.join(sorted(known))}"
                    )
            kwargs[key] = cls(**{k: _plain(v) for k, v in value.items()})
        elif key in MODEL_LEVEL:
            kwargs[key] = value
        else:
            allowed = ", ".join([*_SECTIONS, *MODEL_LEVEL])
            raise ConfigError(f"{key}: unknown setting; allowed: {allowed}")
    return ModelConfig(**kwargs)


#: Model-level settings (not in a section).
MODEL_LEVEL = ("horizon", "engine", "record_staff_every", "colleague_channel", "sop_channel")


def flat_settings() -> dict[str, str]:
    """Every setting by its leaf name (e.g. `cohort_size`) -> its section ("" at model level);
    leaf names are unique across sections (tests/test_model_api.py checks it)."""
    out = dict.fromkeys(MODEL_LEVEL, "")
    for section, cls in _SECTIONS.items():
        out.update(dict.fromkeys((f.name for f in dataclasses.fields(cls)), section))
    return out


def with_settings(config: ModelConfig, values: dict[str, Any]) -> ModelConfig:
    """A copy of `config` with settings given by their leaf names (`cohort_size=20`,
    `scale=0.05`, `horizon=60`, ...), as `ExchangeModel(**levers)` and `mesa.batch_run` pass
    them; an unknown name is one ConfigError line. The values are checked by
    `validate_config`."""
    if not values:
        return config
    where = flat_settings()
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for name, value in values.items():
        if name not in where:
            renamed = {o.rsplit(".", 1)[-1]: n.rsplit(".", 1)[-1] for o, n in RENAMED.items()}
            removed = {o.rsplit(".", 1)[-1]: why for o, why in REMOVED.items()}
            hint = f"; renamed to {renamed[name]}" if name in renamed else ""
            hint = f"; removed: {removed[name]}" if name in removed else hint
            raise ConfigError(
                f"{name}: unknown setting{hint}; a model takes its settings by their names: "
                f"{', '.join(sorted(where))}"
            )
        if where[name]:
            sections.setdefault(where[name], {})[name] = _plain(value)
        else:
            top[name] = value
    changed = {k: dataclasses.replace(getattr(config, k), **v) for k, v in sections.items()}
    return dataclasses.replace(config, **changed, **top)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """Nested plain dict of a ModelConfig (for saving next to results)."""
    return dataclasses.asdict(config)


# --- validation -------------------------------------------------------------------------------
# Each setting's own range is checked from its declaration; these are the rules between settings
# (the declarations' `also` notes name them in the docs). Each returns a one-line message or None.


def ties_need_roster(c: ModelConfig) -> str | None:
    """Ties name staff ids, so a ties file needs a roster."""
    s = c.scenario
    if s.ties_file is not None and s.roster_file is None:
        return (
            f"scenario.ties_file = {s.ties_file!r}: ties name staff ids, so they need "
            "scenario.roster_file"
        )
    return None


def roster_at_full_scale(c: ModelConfig) -> str | None:
    """A roster is simulated as it is: scale 1.0."""
    s = c.scenario
    if s.roster_file is not None and s.scale != 1.0:
        return (
            f"scenario.scale = {s.scale!r}: a roster is simulated as it is; allowed with a "
            "roster: 1.0"
        )
    return None


def team_neighbours_even(c: ModelConfig) -> str | None:
    """The ring lattice needs an even degree."""
    k = c.network.team_neighbours
    if k % 2:
        return f"network.team_neighbours = {k}: must be even"
    return None


def duration_within_horizon(c: ModelConfig) -> str | None:
    """A stay abroad is shorter than the simulated period."""
    p = c.program
    if p.duration >= c.horizon:
        return f"program.duration = {p.duration}: must be shorter than horizon = {c.horizon}"
    return None


def end_after_start(c: ModelConfig) -> str | None:
    """The program ends no earlier than it starts."""
    p = c.program
    if p.end is not None and p.end < p.start:
        return f"program.end = {p.end}: must be >= program.start = {p.start}"
    return None


def starts_within_horizon(c: ModelConfig) -> str | None:
    """A program that sends anyone starts within the simulated period (else it would report a
    gain and a cost of zero for a design that never ran)."""
    p = c.program
    if (p.cohort_size > 0 or p.experts_per_visit > 0) and p.start > c.horizon:
        return (
            f"program.start = {p.start}: after horizon = {c.horizon}, so no cohort would leave "
            f"and no expert would visit; allowed: 1 to {c.horizon}"
        )
    return None


def targeted_has_departments(c: ModelConfig) -> str | None:
    """The 'targeted' policy needs departments to target."""
    p = c.program
    if p.selection == "targeted" and not p.target_departments:
        return (
            "program.target_departments = []: the 'targeted' policy needs at least one department"
        )
    return None


def proficiency_threshold_in_range(c: ModelConfig) -> str | None:
    """Adoption means a proficiency in (0, 1]."""
    v = c.behavior.proficiency_threshold
    if not 0.0 < v <= 1.0:
        return f"behavior.proficiency_threshold = {v!r}: must be in (0, 1]"
    return None


def beta_moments(prefix: str, mean: float, sd: float) -> str | None:
    """A Beta law with this mean and sd exists: mean in (0, 1) and sd**2 < mean*(1-mean)."""
    if not 0.0 < mean < 1.0 and sd > 0:
        return f"{prefix}_mean = {mean!r}: must be in (0, 1) when {prefix}_sd > 0"
    if sd > 0 and sd**2 >= mean * (1 - mean):
        limit = math.sqrt(mean * (1 - mean))
        return (
            f"{prefix}_sd = {sd!r}: must be below sqrt(mean*(1-mean)) = {limit:.3f} for a Beta law"
        )
    return None


def capacity_is_beta(c: ModelConfig) -> str | None:
    """Base absorptive capacity is Beta distributed."""
    b = c.behavior
    return beta_moments("behavior.capacity", b.capacity_mean, b.capacity_sd)


def willingness_is_beta(c: ModelConfig) -> str | None:
    """Willingness to share is Beta distributed."""
    b = c.behavior
    return beta_moments("behavior.willingness", b.willingness_mean, b.willingness_sd)


#: Rules between settings, by section: checked in this order after the section's own ranges.
RELATIONS: dict[str, tuple[Callable[[ModelConfig], str | None], ...]] = {
    "scenario": (ties_need_roster, roster_at_full_scale),
    "network": (team_neighbours_even,),
    "program": (
        duration_within_horizon,
        starts_within_horizon,
        end_after_start,
        targeted_has_departments,
    ),
    "behavior": (proficiency_threshold_in_range, capacity_is_beta, willingness_is_beta),
}


def validate_config(config: ModelConfig) -> ModelConfig:
    """Check every setting that does not need the data files; return the config unchanged.

    The first setting out of range is reported: the model-level settings, then each section's
    settings in field order followed by the section's `RELATIONS`.
    """
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config = {type(config).__name__}: must be a sim.ModelConfig")
    check(config)
    for name in _SECTIONS:
        check(getattr(config, name), name)
        for relation in RELATIONS[name]:
            message = relation(config)
            if message:
                raise ConfigError(message)
    return config
