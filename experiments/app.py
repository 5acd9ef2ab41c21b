"""The interactive explorer: Mesa's SolaraViz on the exchange model (`make app`).

Move the levers (cohort size in real Jakarta staff, months between cohorts, months in Tokyo, who
goes, Tokyo experts) and the scale, press Reset, then Step or play month by month: the city
service index runs beside the no-exchange run of the same seed (the same city, stepped with
it), with staff proficient in each practice, departments' quality by domain and the department
network coloured by proficiency.

Served by solara on this machine only (`make app` runs
`solara run experiments/app.py --host 127.0.0.1`) with solara's front-end files taken from a
local folder (`experiments/app_assets.py`), so it works without internet.

Mesa's pattern: the model (`ExplorerModel`, the exchange model with flat keyword levers, which
SolaraViz needs to rebuild it on Reset as `type(model)(**parameters)`), the plot components
(plain functions of the model) and the page (`Page`) are apart.
"""

from __future__ import annotations

import html
import math
import textwrap

import matplotlib
import networkx as nx
import numpy as np
import solara
from matplotlib import colors, ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa.visualization import SolaraViz

from experiments.figures import BASELINE_COLOUR, DOMAIN_COLOURS, PALETTE
from experiments.study import LEVERS
from experiments.tables import POINTS, department_name, practice_name, pretty
from sim import ExchangeModel, ModelConfig, ProgramConfig, build_city
from sim.organisation import DOMAINS
from sim.pairing import no_exchange

#: The explorer's scale when the page opens: all of Jakarta's 60,000 staff. A month of both runs
#: takes under 10 ms at full scale; drawing the four plots takes about 0.35 s and the page shows
#: the new month about 0.8 s after Step (2 cores), so smaller scales are offered only for speed
#: of start-up on a slow machine, not needed for a responsive page.
DEFAULT_SCALE = 1.0
#: Scales offered (share of the full headcount simulated).
SCALES = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]
#: Policies offered: the selection lever's (not "targeted", which needs a list of departments).
SELECTIONS = list(LEVERS["selection"].choices)
DEFAULT_SEED = "1"
DPI = 80
#: The levers' starting values: the model's own defaults (sim.ProgramConfig), not a second copy.
PROGRAM = ProgramConfig()
HORIZON = ModelConfig().horizon

# --- the model ---------------------------------------------------------------------------------


def parse_seed(text) -> tuple[int | None, str]:
    """The seed typed in the Seed box, and a note for the page: empty gives None (the model
    draws a fresh seed, Mesa's convention), a non-negative whole number is used as it is;
    anything else also draws a fresh seed and the note says so in one line."""
    raw = "" if text is None else str(text).strip()
    if raw.isdigit():
        return int(raw), ""
    if raw:
        return None, f"Seed {raw!r} is not a non-negative whole number: a fresh seed was drawn."
    return None, ""


class ExplorerModel(ExchangeModel):
    """The exchange model, its levers as keywords (SolaraViz rebuilds it on Reset as
    `ExplorerModel(**controls)`), stepped together with the no-exchange run of the same seed
    and the same city (`self.baseline`). Counts of people are real Jakarta staff and costs IDR
    million at every scale. Named parameters (not `**levers`): SolaraViz checks every control
    against the signature."""

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
        # the same city without the exchange: same seed, the city built once for both
        city = build_city(self.config, self.seed)
        self.baseline = ExchangeModel(no_exchange(self.config), seed=self.seed, city=city)
        self.layout = network_layout(self.department_ties())

    def step(self) -> None:
        """A month of the design and of its no-exchange twin (a finished run refuses)."""
        super().step()
        self.baseline.step()


def network_layout(ties: np.ndarray) -> tuple[nx.Graph, dict]:
    """Departments as nodes, cross-department ties as weighted edges, and fixed positions."""
    counts = ties.astype(float)
    cross = (counts + counts.T) / 2
    np.fill_diagonal(cross, 0)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(counts)))
    for i, j in zip(*np.nonzero(np.triu(cross)), strict=True):
        graph.add_edge(int(i), int(j), weight=float(np.log1p(cross[i, j])))
    return graph, nx.spring_layout(graph, seed=20251128, weight="weight")


# --- the plot components (plain functions of the model) ----------------------------------------


def _figure(width: float, height: float, **margins) -> Figure:
    """A figure with fixed margins (a constrained layout would double the drawing time)."""
    with matplotlib.rc_context({"axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(**{"left": 0.12, "right": 0.97, "top": 0.92, "bottom": 0.12, **margins})
    return fig


def _show(fig: Figure, name: str):
    """The figure as a PNG image, in a column of class `explorer-<name>` (tests find it so)."""
    image = solara.FigureMatplotlib(fig, format="png", dpi=DPI)
    return solara.Column(children=[image], classes=[f"explorer-{name}"])


def summary_html(model: ExplorerModel) -> str:
    """What the page says about the run now (HTML paragraphs; every value escaped)."""
    cfg, p = model.config, model.config.program
    now, base = model.results().iloc[-1], model.baseline.results().iloc[-1]
    design = f"{p.cohort_size:,} staff every {p.months_between_cohorts} months, " + (
        f"{p.duration} months in Tokyo, {p.selection} selection"
    )
    if p.experts_per_visit:
        design += (
            f"; {p.experts_per_visit} Tokyo experts every {p.months_between_expert_visits} months"
        )
    gain = (now["service_index"] - base["service_index"]) * POINTS
    lines = [
        ("Month", f"{model.month} of {cfg.horizon} (year {model.month / 12:.1f}) · seed "
         f"{model.seed} · scale {cfg.scenario.scale:g}: {model.n_staff:,} simulated people "
         f"stand for {model.structure.real_staff:,.0f} staff"),
        ("Design:", design),
        ("So far:", f"{now['departures']:,.0f} staff sent, {now['staff_months_abroad']:,.0f} "
         f"staff-months in Tokyo, {now['expert_visits']:,.0f} expert visits, cost IDR "
         f"{now['cost'] / 1000:,.1f} billion"),
        ("Service index:", f"{now['service_index']:.4f} with the exchange, "
         f"{base['service_index']:.4f} without (same seed): gain {gain:+.2f} points"),
    ]  # fmt: skip
    if model.note:
        lines.append(("Note:", model.note))
    paragraphs = [f"<p><b>{html.escape(head)}</b> {html.escape(text)}</p>" for head, text in lines]
    paragraphs.append(
        "<p><i>Move a control, then press Reset to start a new run with it; Step adds a month, "
        "▶ plays to the horizon.</i></p>"
    )
    return f'<div class="explorer-summary">{"".join(paragraphs)}</div>'


def Summary(model: ExplorerModel):
    # HTML, not solara.Markdown: that loads mermaid and katex from the CDN
    return solara.HTML(tag="div", unsafe_innerHTML=summary_html(model))


def index_figure(model: ExplorerModel) -> Figure:
    """The city service index with and without the exchange (same seed), and the gain."""
    design, base = model.results(), model.baseline.results()
    years, horizon = design["month"] / 12, model.config.horizon / 12
    fig = _figure(6.4, 4.6, hspace=0.15, top=0.93, left=0.15)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(years, base["service_index"], color=BASELINE_COLOUR, ls="--", lw=1.8,
             label="No exchange (same seed)")  # fmt: skip
    top.plot(years, design["service_index"], color=PALETTE[0], lw=1.8, label="This design")
    top.plot(years.iloc[-1:], design["service_index"].iloc[-1:], "o", color=PALETTE[0], ms=4)
    top.set_ylabel("City service index (0-1)")
    top.yaxis.set_major_formatter(ticker.ScalarFormatter(useOffset=False))  # no "+4.99e-1"
    top.legend(loc="best", frameon=False)
    top.set_title(f"City service index, month {model.month}")
    gain = (design["service_index"] - base["service_index"]) * POINTS
    bottom.axhline(0, color="#333333", lw=0.8)
    bottom.plot(years, gain, color=PALETTE[1], lw=1.6)
    bottom.set_ylabel("Gain (points)")
    bottom.set_xlabel("Years since the start of the program")
    bottom.set_xlim(0, horizon)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return fig


def IndexPlot(model: ExplorerModel):
    return _show(index_figure(model), "index")


def adoption_figure(model: ExplorerModel) -> Figure:
    """Real Jakarta staff proficient in each practice now, with and without the exchange."""
    now, base = model.results().iloc[-1], model.baseline.results().iloc[-1]
    practices = [c.removeprefix("adoption_") for c in now.index if c.startswith("adoption_")]
    with_exchange = np.array([now[f"adoption_{p}"] * now["staff"] for p in practices])
    without = np.array([base[f"adoption_{p}"] * base["staff"] for p in practices])
    fig = _figure(6.4, 4.6, left=0.36, bottom=0.13)
    ax = fig.subplots()
    y = np.arange(len(practices))
    ax.barh(y + 0.2, with_exchange, height=0.4, color=PALETTE[0], label="This design")
    ax.barh(y - 0.2, without, height=0.4, color=BASELINE_COLOUR, label="No exchange")
    names = [textwrap.shorten(practice_name(p), 34, placeholder="...") for p in practices]
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, max(10.0, 1.1 * max(with_exchange.max(), without.max())))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.set_xlabel("Jakarta staff proficient (people)")
    ax.set_title(f"Staff proficient in each Tokyo practice, month {model.month}")
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return fig


def AdoptionPlot(model: ExplorerModel):
    return _show(adoption_figure(model), "adoption")


def departments_figure(model: ExplorerModel) -> Figure:
    """Each department's service quality now minus the no-exchange run's (points), by domain;
    dot area = staff; a black bar = the domain's index gain."""
    dep = model.department_results()
    dep = dep[dep["month"] == model.month].reset_index(drop=True)
    base = model.baseline.department_results()
    base = base[base["month"] == model.month].reset_index(drop=True)
    change = (dep["quality"] - base["quality"]) * POINTS
    now, base_now = model.results().iloc[-1], model.baseline.results().iloc[-1]
    domains = [d for d in DOMAINS if (dep["domain"] == d).any()]
    staff = model.structure.full_headcount
    fig = _figure(6.4, 4.6, bottom=0.17)
    ax = fig.subplots()
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(dep))
    for k, domain in enumerate(domains):
        rows = (dep["domain"] == domain).to_numpy()
        ax.scatter(
            k + jitter[rows],
            change[rows],
            s=15 + 400 * staff[rows] / staff.max(),
            color=DOMAIN_COLOURS[DOMAINS.index(domain) % len(DOMAIN_COLOURS)],
            edgecolors="#333333",
            linewidths=0.4,
            alpha=0.85,
        )
        domain_gain = (now[f"index_{domain}"] - base_now[f"index_{domain}"]) * POINTS
        ax.plot([k - 0.35, k + 0.35], [domain_gain] * 2, color="black", lw=2.2)
    ax.axhline(0, color="#333333", lw=0.8)
    ax.set_xticks(range(len(domains)), [pretty(d).replace(" ", "\n", 1) for d in domains],
                  fontsize=8)  # fmt: skip
    ax.set_ylabel("Quality gain over no exchange (points)")
    ax.set_title(f"Departments' service quality by domain, month {model.month}")
    ax.legend(
        handles=[
            Line2D([], [], color="black", lw=2.2, label="Domain index"),
            Line2D([], [], ls="", marker="o", color="#999999", label="A department (area: staff)"),
        ],
        loc="upper left",
        frameon=False,
        fontsize=8,
    )
    ax.grid(axis="y", alpha=0.3)
    return fig


def DepartmentsPlot(model: ExplorerModel):
    return _show(departments_figure(model), "departments")


def network_figure(model: ExplorerModel) -> Figure:
    """Departments (circle area: staff) joined by their work ties, coloured by the share of
    their staff proficient in the department's practices now."""
    graph, pos = model.layout
    dep = model.department_results()
    share = dep.loc[dep["month"] == model.month, "proficient_share"].to_numpy() * 100
    staff = model.structure.full_headcount
    fig = _figure(6.4, 4.6, left=0.02, right=0.98, bottom=0.02, top=0.93)
    ax = fig.subplots()
    weights = np.array([w for *_, w in graph.edges(data="weight")])
    widths = 0.2 + 2.0 * weights / weights.max() if weights.size else 1.0
    nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, edge_color="#9A9A9A", alpha=0.3)
    nodes = nx.draw_networkx_nodes(
        graph,
        pos,
        ax=ax,
        nodelist=list(range(len(share))),
        node_size=30 + 700 * staff / staff.max(),
        node_color=share,
        cmap="viridis",
        edgecolors="#333333",
        linewidths=0.5,
    )
    nodes.set_norm(colors.Normalize(vmin=0, vmax=max(100 * math.ceil(share.max() / 100 * 10) / 10,
                                                     10)))  # fmt: skip
    ids = model.organisation.department_ids
    for k in np.argsort(-staff, kind="stable")[:5]:
        ax.annotate(department_name(ids[k]), pos[int(k)], fontsize=7, ha="center", va="center")
    fig.colorbar(nodes, ax=ax, shrink=0.8, label="Staff proficient in their practices (%)")
    ax.set_title(f"Department network, month {model.month}")
    ax.set_axis_off()
    return fig


def NetworkPlot(model: ExplorerModel):
    return _show(network_figure(model), "network")


# --- the page ----------------------------------------------------------------------------------


def slider_range(name: str) -> dict:
    """A slider's min, max and step: the range the lever declares (study.LEVERS)."""
    lever = LEVERS[name]
    return {"min": lever.low, "max": lever.high, "step": lever.step}


#: The controls: SolaraViz passes their values (and the fixed ones) to ExplorerModel on Reset.
MODEL_PARAMS = {
    "cohort_size": {
        "type": "SliderInt",
        "value": PROGRAM.cohort_size,
        **slider_range("cohort_size"),
        "label": "Cohort size (Jakarta staff, real people)",
    },
    "months_between_cohorts": {
        "type": "SliderInt",
        "value": PROGRAM.months_between_cohorts,
        **slider_range("months_between_cohorts"),
        "label": "Months between cohorts",
    },
    "duration": {
        "type": "SliderInt",
        "value": PROGRAM.duration,
        **slider_range("duration"),
        "label": "Months in Tokyo (duration)",
    },
    "selection": {
        "type": "Select",
        "value": PROGRAM.selection,
        "values": SELECTIONS,
        "label": "Who goes (selection policy)",
    },
    "experts_per_visit": {
        "type": "SliderInt",
        "value": PROGRAM.experts_per_visit,
        **slider_range("experts_per_visit"),
        "label": "Tokyo experts per visit",
    },
    "months_between_expert_visits": {
        "type": "SliderInt",
        "value": PROGRAM.months_between_expert_visits,
        **slider_range("months_between_expert_visits"),
        "label": "Months between expert visits",
    },
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

COMPONENTS = [Summary, IndexPlot, AdoptionPlot, DepartmentsPlot, NetworkPlot]


def default_parameters() -> dict:
    """The values the controls start with (and the fixed parameters)."""
    return {k: v["value"] if isinstance(v, dict) else v for k, v in MODEL_PARAMS.items()}


#: Sliders always show their value (Mesa's controls show it only while dragging).
CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-input__slider { padding-top: 26px; }
"""


@solara.component
def Page():
    """One model per browser session (a module-level model would be shared by all of them)."""
    model = solara.use_memo(lambda: ExplorerModel(**default_parameters()), [])
    solara.Style(CSS)
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=MODEL_PARAMS,
        name="Jakarta-Tokyo staff exchange: explorer",
        play_interval=50,
    )
