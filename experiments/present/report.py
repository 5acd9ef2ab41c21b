"""A one-file HTML report of a sweep (or of one design) for readers who do not read code.

Gains are shown in index points (the service index runs from 0 to 1; one point is 0.01), people
as real Jakarta staff (whole numbers) and every amount of money in IDR billion (the tables carry
IDR million), undiscounted or as a present value at the sweep's `discount_rate`. The page opens
with what to do: the design to choose at each budget, the cheapest that reaches the target and
the efficient designs. Every statement of
a difference rests on a 95% interval shown in the same report: a design is called best, efficient
or better only when the interval of the paired differences excludes zero. Figures are referenced
by relative path; the page has inline CSS and no scripts or external assets.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import pandas as pd

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import (
    SweepTables,
    best_design,
    budget_choices,
    cheapest_reaching,
    discount_rate,
    drawn_from_posterior,
    has_channels,
    horizon_months,
    ranked,
    years,
)
from experiments.jobs.outputs import atomic_write_text
from experiments.present.figures import MAX_BARS, PLOTS, shown_designs
from experiments.present.labels import department_name, design_labels, practice_name, pretty
from experiments.present.markup import figure_block, html_page, paragraph, section
from experiments.present.scale import caveat
from experiments.study.levers import LEVERS, format_value, short_value
from experiments.study.outcomes import EFFECTS, OUTCOMES, POINTS
from sim.organisation import packaged_file
from sim.pairing import CHANNELS, FINAL_YEAR
from sim.rules import score_points_per_index_point
from sim.trend import own_months, packaged_trend

#: Meta keys the "What was run" sentences already use.
_USED_META = {
    "horizon_months", "replicates", "scale", "seeds", "target_gain", "real_staff",
    "simulated_staff", "provenance", "failed_jobs", "folder", "experiment",
    "cost_per_staff_month", "jobs", "posterior", "organisation", "discount_rate", "optimiser_pick",
}  # fmt: skip


def _num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _billion(idr_million: float) -> str:
    """IDR million -> 'x.x' billion, with fewer decimals for large amounts."""
    b = idr_million / 1000
    if not math.isfinite(b):
        return "n/a"
    return f"{b:,.0f}" if abs(b) >= 100 else f"{b:,.1f}" if abs(b) >= 10 else f"{b:,.2f}"


def _points(x: float, sign: bool = False) -> str:
    """Index units in index points, two decimals (never "-0.00")."""
    if not math.isfinite(x):
        return "n/a"
    return f"{round(x * POINTS, 2) + 0.0:{'+' if sign else ''}.2f}"


def _ci_text(low: float, high: float) -> str:
    """A 95% CI of a gain (index units) in index points, for a sentence."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval: one replicate"
    return f"95% CI {low * POINTS:.2f} to {high * POINTS:.2f}"


def _people(x: float) -> str:
    return f"{x:,.0f}"


#: What the 95% interval of a gain lets the words say, by `tables.interval_side`: the verb and
#: the verdict. Wholly above zero: a clear gain; wholly below: a loss; across zero: neither.
SAYS = {
    1: ("raised", "a clear gain"),
    0: ("changed", "cannot be told apart from no gain"),
    -1: ("lowered", "a loss"),
}


def gain_words(gain: float, low: float, high: float, note: str = "") -> str:
    """A gain over no exchange (index units) with its 95% interval, as what the design did to
    the index, by the one rule every sentence of a gain follows (`SAYS`): e.g. "lowered the city
    service index by 0.40 index points (95% CI -0.60 to -0.20): a loss". `note` goes inside the
    brackets after the interval."""
    side = interval_side(low, high)
    verb, verdict = SAYS[side]
    size = _points(gain, sign=True) if side == 0 else _points(abs(gain))
    brackets = _ci_text(low, high) + (f"; {note}" if note else "")
    return f"{verb} the city service index by {size} index points ({brackets}): {verdict}"


def shares_of(row: pd.Series) -> str:
    """What P(best) and P(gain > 0) of a designs row are shares of: the replicates every design
    ran, paired on seeds (under a posterior, one draw each); '' for a table without them."""
    if not math.isfinite(row.get("p_gain_positive", math.nan)):
        return ""
    n = int(row.paired_replicates)
    return f"the {n} posterior draws" if drawn_from_posterior(row) else f"the {n} paired replicates"


def shares_note(row: pd.Series, several: bool) -> str:
    """P(best) (with several designs) and P(gain > 0) of a designs row, and what they are shares
    of ('' without them)."""
    of = shares_of(row)
    if not of:
        return ""
    best = f"P(best) {row.p_best:.0%}, " if several else ""
    return f"{best}P(gain > 0) {row.p_gain_positive:.0%}: shares of {of}"


def _sides(low: pd.Series, high: pd.Series) -> pd.Series:
    """`tables.interval_side` of each interval."""
    return pd.Series(map(interval_side, low, high), index=low.index, dtype=int)


#: Most designs a sentence names before "and N more".
NAMED = 6


def resolved_words(d: pd.DataFrame, labels: dict[str, str]) -> str:
    """Which comparisons of the best design (first row of the ranked designs `d`) with each
    other design are resolved, the 95% interval of their paired difference excluding zero, and
    which are not (`tables.interval_side`)."""
    others = d.iloc[1:]
    side = _sides(others.diff_vs_best_ci_low, others.diff_vs_best_ci_high)
    below, above, open_ = (others.design_id[side == k] for k in (-1, 1, 0))
    if open_.empty:
        return (
            f"Resolved: better than every other design (all {len(others)} paired 95% intervals "
            "exclude zero)."
        )
    if below.empty and above.empty:
        return (
            f"Not resolved: it cannot be told apart from any of the {len(others)} other "
            "design(s) (every paired 95% interval includes zero)."
        )
    # above: a design clearly better on the seeds both ran, though lower in mean (possible only
    # when designs ran different seeds)
    resolved = " and ".join(
        f"{word} than {_names(ids, labels)}"
        for word, ids in (("better", below), ("worse", above))
        if len(ids)
    )
    return (
        f"Resolved: {resolved} (paired 95% intervals exclude zero). "
        f"Not resolved: {_names(open_, labels)}."
    )


def banners(tables: SweepTables) -> str:
    """Warnings a reader must see first: missing jobs, a scaled-down city."""
    parts = []
    failed = tables.meta.get("failed_jobs")
    if failed:
        items = "".join(f"<li>{escape(str(f))}</li>" for f in failed)
        parts.append(
            '<div class="warning"><strong>Incomplete sweep.</strong> These jobs failed or did '
            "not finish and are not in this report; run the same command again to retry them:"
            f"<ul>{items}</ul></div>"
        )
    scale = float(tables.meta.get("scale", 1.0))
    if scale < 1:
        parts.append(
            '<div class="warning"><strong>Smoke run at reduced scale.</strong> '
            + escape(
                f"{tables.meta.get('simulated_staff', 0):,} simulated people stood for "
                f"{tables.meta.get('real_staff', 0):,} (scale {scale:g}): staff and costs are "
                "real, gains noisier and smaller than at full scale; quote full-scale runs only."
            )
            + (
                "<details><summary>How much smaller</summary>"
                + paragraph(caveat(scale))
                + "</details>"
                if caveat(scale)
                else ""
            )
            + "</div>"
        )
    return "\n".join(parts)


def _pv_words(tables: SweepTables) -> str:
    """How the present value of costs was computed, for a note."""
    rate = discount_rate(tables.meta)
    if rate == 0:
        return "costs are not discounted (discount_rate=0)"
    return (
        f"present value: each month's cost discounted to the start at {rate:.0%} a year (real; "
        "setting discount_rate, docs/model.md §7.13)"
    )


def _gain_ci(mean: float, low: float, high: float) -> str:
    """'+0.83 (0.61 to 1.05)': a gain in index points with its 95% interval."""
    return f"{_points(mean, True)} ({_ci_range(low, high)})"


def _share(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{p:.0%}"


def recommendation_lead(tables: SweepTables, choices: pd.DataFrame) -> tuple[str, str]:
    """What to do, in a few sentences: the design to choose with the sweep's largest budget (its
    gain, interval, P(best) among all designs, yearly cost; said to be the dearest when it is)
    and the cheapest design reaching the target; then, apart, whether the choice gains clearly
    more than the choice for a smaller budget."""
    labels, d = design_labels(tables), tables.designs.set_index("design_id")
    top = choices.iloc[-1]
    row = d.loc[top.design_id]
    dearest = len(d) > 1 and math.isclose(row.cost_mean, d.cost_mean.max())
    cost = f"IDR {_billion(top.cost_per_year)} billion a year" + (
        ", the dearest design of the sweep" if dearest else ""
    )
    p_best = f", P(best) {_share(row.get('p_best', math.nan))}" if len(d) > 1 else ""
    gain = (
        f"{_points(top.gain_mean, True)} index points "
        f"({_ci_text(top.gain_ci_low, top.gain_ci_high)}{p_best})"
    )
    side = interval_side(top.gain_ci_low, top.gain_ci_high)
    if len(d) == 1:
        lead = f"{labels[top.design_id]} ({cost}): {gain}, {SAYS[side][1]}."
    elif side > 0:
        lead = f"With the sweep's largest budget, choose {labels[top.design_id]} ({cost}): {gain}."
    else:
        lead = (
            "No design clearly raised the city service index: do not expect a gain from any of "
            f"them. The design with the largest mean gain was {labels[top.design_id]} ({cost}): "
            f"{gain}, {SAYS[side][1]}."
        )
    more = ""
    if (
        side > 0
        and top.previous_id
        and interval_side(top.diff_vs_previous_ci_low, top.diff_vs_previous_ci_high) <= 0
    ):
        prev = choices.set_index("design_id").loc[top.previous_id]
        more = (
            f"Its gain cannot be told apart from that of {labels[top.previous_id]}, the choice "
            f"from IDR {_billion(prev.cost_per_year)} billion a year (the paired 95% interval of "
            "the difference includes zero): the extra money buys no gain that can be told apart."
        )
    target = float(tables.meta.get("target_gain", 0.005))
    reach, clearly = cheapest_reaching(tables.designs, target)
    goal = f"the target of {_points(target)} index points"
    if reach is None:
        lead += f" No design reached {goal} on average."
    else:
        what = "that clearly reaches" if clearly else "whose mean gain reaches"
        caveat_ = "" if clearly else " (its 95% interval does not lie wholly above it)"
        if len(d) == 1:
            verb = "clearly reaches" if clearly else "reaches, in its mean gain,"
            lead += f" It {verb} {goal}{caveat_}."
        elif reach.design_id == top.design_id:
            lead += f" It is also the cheapest design {what} {goal}{caveat_}."
        else:
            per_year = f"IDR {_billion(reach.cost_mean / years(tables))} billion a year"
            lead += (
                f" The cheapest design {what} {goal} is {labels[reach.design_id]} ({per_year})"
                f"{caveat_}."
            )
    return lead, more


def budget_table(tables: SweepTables, choices: pd.DataFrame) -> str:
    """One row per budget level at which the choice changes: from what yearly cost, the design,
    its gain, P(best) among the designs that budget affords, and its paired gain over the choice
    for the budget below."""
    labels = design_labels(tables)
    head = (
        "<tr><th>From (IDR billion a year)</th><th class='design'>Choose</th>"
        "<th>Gain (index points, 95% CI)</th><th>P(best at that budget)</th>"
        "<th>More than the choice above (paired, 95% CI)</th></tr>"
    )
    rows = []
    for r in choices.itertuples():
        tag = _clear_tag(r.gain_ci_low, r.gain_ci_high)
        more = (
            "—"
            if not r.previous_id
            else _gain_ci(r.diff_vs_previous_mean, r.diff_vs_previous_ci_low,
                          r.diff_vs_previous_ci_high)
            + _clear_tag(r.diff_vs_previous_ci_low, r.diff_vs_previous_ci_high)
        )  # fmt: skip
        rows.append(
            f"<tr><td>{_billion(r.cost_per_year)}</td>"
            f"<td class='design'>{escape(labels[r.design_id])}{tag}</td>"
            f"<td>{escape(_gain_ci(r.gain_mean, r.gain_ci_low, r.gain_ci_high))}</td>"
            f"<td>{_share(r.p_best_within)}</td><td>{more}</td></tr>"
        )
    return (
        "<h3>The design to choose for each budget</h3>\n"
        f'<table class="answer">\n<thead>{head}</thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def efficient_table(tables: SweepTables) -> str:
    """The efficient designs (a clear gain, clearly larger than that of every cheaper design),
    cheapest first, with yearly cost, present value of costs and gain; or a sentence."""
    labels = design_labels(tables)
    front = tables.designs[tables.designs.efficient].sort_values("cost_mean")
    heading = "<h3>Efficient designs</h3>"
    if front.empty:
        return heading + paragraph(
            "No design is efficient in the strict sense (a clear gain that is clearly larger "
            "than that of every cheaper design); more replicates may separate them."
        )
    rate = discount_rate(tables.meta)
    head = (
        "<tr><th class='design'>Design</th><th>Cost (IDR billion a year)</th>"
        f"<th>Present value of all costs (IDR billion, {rate:.0%})</th>"
        "<th>Gain (index points, 95% CI)</th></tr>"
    )
    rows = "\n".join(
        f"<tr><td class='design'>{escape(labels[r.design_id])}</td>"
        f"<td>{_billion(r.cost_mean / years(tables))}</td>"
        f"<td>{_billion(getattr(r, 'cost_present_value', math.nan))}</td>"
        f"<td>{escape(_gain_ci(r.gain_mean, r.gain_ci_low, r.gain_ci_high))}</td></tr>"
        for r in front.itertuples()
    )
    lead = paragraph(
        f"{len(front)} of {len(tables.designs)} designs are efficient: each has a clear gain "
        "that is clearly larger, on the same seeds, than that of every cheaper design, so the "
        "extra money buys a gain that can be told apart. Cheapest first:"
    )
    table = f'<table class="answer">\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>'
    return "\n".join([heading, lead, table])


def recommendation(tables: SweepTables) -> str:
    """'What should we do?': the recommendation (`recommendation_lead`), the design to choose
    for each budget level, the efficient designs, and how the numbers were made."""
    choices = budget_choices(tables)
    words, more = recommendation_lead(tables, choices)
    lead = f'<p class="headline" id="recommendation">{escape(words)}</p>'
    if more:
        lead += "\n" + paragraph(more)
    if len(tables.designs) == 1:
        return section("What should we do?", lead)
    shares = shares_of(tables.designs.iloc[0]) or "the paired replicates"
    note = paragraph(
        "A budget affords the designs whose cost per year (the whole horizon's cost spread "
        f"evenly over its {years(tables):g} years) is at most that much; the choice is the one "
        "with the largest mean gain among them, and a row appears where a larger budget "
        "changes it. P(best at that budget) is the share of "
        f"{shares} on which the choice had the largest gain of the designs costing at most its "
        "own yearly cost. "
        "'More than the choice above' is the paired difference from the previous row's design; "
        "'not clear' marks an interval that includes zero (the extra money buys no gain that "
        f"can be told apart). Money is in IDR billion; {_pv_words(tables)}.",
        "note",
    )
    return section(
        "What should we do?", lead, budget_table(tables, choices), note, efficient_table(tables)
    )


def what_was_run(tables: SweepTables) -> str:
    """Plain sentences on horizon, replicates, scale and levers, then the other meta facts."""
    meta, sc = tables.meta, tables.designs
    h = int(meta.get("horizon_months", horizon_months(tables)))
    reps = int(meta.get("replicates", sc["n"].max()))
    seeds = f" ({meta['seeds']})" if "seeds" in meta else ""
    designs = "The exchange design" if len(sc) == 1 else f"Each of the {len(sc)} exchange designs"
    times = "once" if reps == 1 else f"{reps} times with different random seeds{seeds}"
    parts = [
        paragraph(
            f"{designs} below was simulated for {h} months ({h / 12:g} years), {times}. "
            "Every run was paired with a run of the same simulated city without any exchange, "
            "using the same seed; the gain of a design is the difference between the two. That "
            "no-exchange run is the reference of every design; it is not listed as a design."
        )
    ]
    if "posterior" in meta:
        post = meta["posterior"]
        parts.append(
            paragraph(
                f"Replicate r drew the behavioural parameters {', '.join(post['parameters'])} "
                f"from draw r of the calibrated posterior {post['path']} ({post['draws']} draws, "
                f"sha256 {post['sha256'][:12]}…): every design and its no-exchange run used the "
                "same draw with the same seed, so differences between designs are paired on "
                "parameters as well as on chance."
            )
        )
    if "real_staff" in meta:
        real, simulated = meta["real_staff"], meta["simulated_staff"]
        whom = meta.get("organisation", f"the organisation '{meta.get('scenario')}'")
        if simulated == real:
            text = f"The model simulated every one of the {real:,} staff of {whom}."
        else:
            text = (
                f"The model simulated {simulated:,} people standing for the {real:,} staff of "
                f"{whom} (scale {float(meta['scale']):g})."
            )
        text += (
            " Cohort sizes, staff sent and costs are real people and real money: a cohort of 10 "
            "is 10 of the city's staff, at IDR "
            f"{meta.get('cost_per_staff_month', 0):g} million per staff-month in Tokyo."
        )
        parts.append(paragraph(text))
    if tables.levers:
        items = []
        for k in tables.levers:
            values = sorted(sc[k].unique(), key=lambda v: (isinstance(v, str), v))
            words = LEVERS[k].words if k in LEVERS else k.replace("_", " ")
            items.append(
                f"<li>{escape(words)}: {escape(', '.join(map(format_value, values)))}</li>"
            )
        parts.append(paragraph("The designs differ in:"))
        parts.append("<ul>" + "".join(items) + "</ul>")
        parts.append(paragraph("Every other setting was the same for every design."))
    pick = meta.get("optimiser_pick")
    if pick:
        params = ", ".join(
            f"{k}={short_value(v) if isinstance(v, float) else v}"
            for k, v in pick["best_params"].items()
        )
        value = pick.get("best_value")
        value = f"{value:+.2f} index points" if isinstance(value, int | float) else "not recorded"
        parts.append(
            paragraph(
                f"The optimiser's own pick (optimization_results.yaml): {params}, with a mean "
                f"gain of {value} (its objective: a trial's mean gain over its replicates, the "
                "same mean as the tables'). The tables rank every trial with its interval; a "
                "trial ranked first by a small margin may not be told apart from the next."
            )
        )
    points = float(meta.get("target_gain", 0.005)) * POINTS
    target = f"{points:g} index point" + ("" if points == 1 else "s")
    parts.append(
        paragraph(
            "Gains are in index points: the service index runs from 0 to 1 and one point is "
            f"0.01. The headline gain is the mean over the final {FINAL_YEAR} months. Months to "
            f"target is the first month the gain reached {target}."
        )
    )
    extra = {k: v for k, v in meta.items() if k not in _USED_META}
    if extra:
        rows = "".join(
            f'<dt>{escape(str(k).replace("_", " "))}</dt><dd class="code">{escape(str(v))}</dd>'
            for k, v in extra.items()
        )
        parts.append(f"<h3>Run details</h3>\n<dl>{rows}</dl>")
    return section("What was run", *parts)


def _names(ids, labels: dict[str, str], limit: int = NAMED) -> str:
    """Labels of designs, "; "-separated (labels have commas), at most `limit` and "and N more"."""
    names = [labels[i] for i in ids]
    if len(names) > limit + 1:  # never "and 1 more"
        return "; ".join(names[:limit]) + f" and {len(names) - limit} more"
    return "; ".join(names)


#: Keys of meta['posterior'] (the run's posterior, with what its draws file's metadata says)
#: the behaviour sentence reads besides path, draws and parameters (which every run under a
#: posterior records), each optional: `packaged` (bool: the posterior the project ships; else
#: told by its path) and these lists of parameter names, with what the sentence says of them.
POSTERIOR_ROLES = {
    "calibrated": "calibrated to evidence",
    "from_ranges": "not calibrated but drawn from their stated plausible ranges, as uncertainty",
}


#: Where the packaged data live: a posterior file there is the packaged one.
PACKAGE = packaged_file("")


def _packaged(post: dict) -> bool:
    if "packaged" in post:
        return bool(post["packaged"])
    path = post.get("path")
    return bool(path) and Path(str(path)).resolve().is_relative_to(PACKAGE)


def _and(names) -> str:
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def behaviour_sentence(tables: SweepTables) -> str:
    """Under what behaviour of the staff the numbers were computed: posterior draws (the
    packaged posterior or a user's file, naming the parameters calibrated and those drawn from
    their plausible ranges when its metadata says so), or the assumed defaults (naming behaviour
    settings the command line changed)."""
    command = str(tables.meta.get("provenance", {}).get("command", ""))
    changed = [w.lstrip("+~") for w in command.split() if w.lstrip("+~").startswith("behavior")]
    given = f", with {' '.join(changed)} from the command line" if changed else ""
    post = tables.meta.get("posterior")
    if tables.under_posterior or post:
        post = post if isinstance(post, dict) else {}
        source = (
            "the packaged posterior"
            if _packaged(post)
            else f"the posterior file {post['path']}"
            if post.get("path")
            else "a posterior file"
        )
        if isinstance(post.get("draws"), int):
            source += f" ({post['draws']:,} draws)"
        roles = [f"{_and(post[k])} {words}" for k, words in POSTERIOR_ROLES.items() if post.get(k)]
        if roles:
            what = f" ({'; '.join(roles)})"
        elif post.get("parameters"):
            what = f" ({_and(post['parameters'])})"
        else:
            what = ""
        return (
            f"Behaviour: drawn from {source}. Each replicate took its behavioural "
            f"parameters{what} from one draw, the same draw for every design and its "
            "no-exchange run (see 'What was run'); every other behaviour setting is the "
            f"configured one{given}."
        )
    return (
        "Behaviour: assumed defaults (posterior=none). The behavioural parameters are the "
        f"configured settings{given}, each an assumption or estimate with its source in "
        "docs/model.md §9, not drawn from a posterior: the intervals describe the seeds only, "
        "not the uncertainty of these parameters."
    )


def headline(tables: SweepTables) -> str:
    """The design with the largest mean gain (said to be the dearest when it is) with its gain,
    interval, P(best), P(gain > 0) and cost, said only as strongly as the intervals allow
    (`gain_words`): which comparisons with it are resolved, which designs' gains cannot be told
    apart from zero or are losses."""
    labels, d = design_labels(tables), ranked(tables)
    best = d.iloc[0]
    span = f"{horizon_months(tables) / 12:g} years"
    name = labels[best.design_id]
    present = best.get("cost_present_value", math.nan)
    cost = (
        f"Cost: IDR {_billion(best.cost_mean)} billion over {span}"
        + (f" (present value IDR {_billion(present)} billion)" if math.isfinite(present) else "")
        + f" for {_people(best.staff_sent_mean)} staff sent."
    )
    gain = gain_words(
        best.gain_mean, best.gain_ci_low, best.gain_ci_high, shares_note(best, len(d) > 1)
    )
    behaviour = paragraph(behaviour_sentence(tables), "note")
    if len(d) == 1:
        lead = f"{name}: after {span}, compared with no exchange, it {gain}. {cost}"
        return section("Headline", f'<p class="lead">{escape(lead)}</p>', behaviour)
    side = _sides(d.gain_ci_low, d.gain_ci_high)
    dearest = math.isclose(best.cost_mean, d.cost_mean.max())
    lead = (
        f"{name} had the largest mean gain{' and is the dearest design' if dearest else ''}: "
        f"after {span}, compared with no exchange, it {gain}. {resolved_words(d, labels)}"
    )
    if not (side > 0).any():
        lead = (
            f"No design clearly raised the city service index after {span} (no gain's 95% "
            f"interval lies wholly above zero). {lead}"
        )
    texts = [cost]
    tied = d[d.tied_with_best]
    cheapest = tied.sort_values("cost_mean").iloc[0] if len(tied) else None
    if cheapest is not None and cheapest.cost_mean < best.cost_mean:
        texts.append(
            f"The cheapest design not resolved from it is {labels[cheapest.design_id]}: "
            f"{_points(cheapest.gain_mean)} index points "
            f"({_ci_text(cheapest.gain_ci_low, cheapest.gain_ci_high)}) for IDR "
            f"{_billion(cheapest.cost_mean)} billion."
        )
    others = side.iloc[1:]
    if (side > 0).any() and (others == 0).any():
        ids = d.design_id[others.index[others == 0]]
        texts.append(
            f"{len(ids)} design(s) had a gain that cannot be told apart from zero (95% "
            f"interval includes zero): {_names(ids, labels)}."
        )
    if (others < 0).any():
        ids = d.design_id[others.index[others < 0]]
        texts.append(
            f"{len(ids)} design(s) lowered the city service index (a loss: the whole 95% "
            f"interval below zero): {_names(ids, labels)}."
        )
    parts = [f'<p class="lead">{escape(lead)}</p>', paragraph(" ".join(texts))]
    return section("Headline", *parts, behaviour)


def posterior_section(tables: SweepTables) -> str:
    """Under posterior draws: each design's probability of being best and of a gain above
    zero, and the 90% posterior interval of its gain (empty otherwise)."""
    if not tables.under_posterior:
        return ""
    labels = design_labels(tables)
    d = tables.designs.sort_values(["p_best", "gain_mean"], ascending=False)
    draws = int(d.paired_replicates.iloc[0])
    top = d.iloc[0]
    mc = math.sqrt(max(top.p_best * (1 - top.p_best), 1e-12) / draws)
    lead = (
        f"Under the calibrated posterior, {labels[top.design_id]} was the best design on "
        f"{top.p_best:.0%} of {draws} draws (Monte Carlo standard error {mc:.0%}); its gain "
        f"was above zero on {top.p_gain_positive:.0%} of draws and lay between "
        f"{_points(top.gain_p05)} and {_points(top.gain_p95)} index points on 90% of them."
    )
    if len(d) == 1:
        lead = (
            f"Under the calibrated posterior, the gain of {labels[top.design_id]} was above zero "
            f"on {top.p_gain_positive:.0%} of {draws} draws and lay between "
            f"{_points(top.gain_p05)} and {_points(top.gain_p95)} index points on 90% of them."
        )
    head = (
        '<tr><th class="design">Design</th><th>P(best)</th><th>P(gain &gt; 0)</th>'
        "<th>Mean gain (index points)</th><th>90% of draws (index points)</th></tr>"
    )
    rows = "".join(
        f'<tr><td class="design">{escape(labels[r.design_id])}</td><td>{r.p_best:.0%}</td>'
        f"<td>{r.p_gain_positive:.0%}</td><td>{_points(r.gain_mean)}</td>"
        f"<td>{_points(r.gain_p05)} to {_points(r.gain_p95)}</td></tr>"
        for r in d.itertuples()
    )
    note = paragraph(
        "Each replicate is one posterior draw of the behavioural parameters with its own seed, "
        "the same for every design. P(best) is the share of draws on which a design had the "
        "largest gain in the final year; P(gain > 0) the share on which its gain was above "
        "zero; the 90% range holds the middle 90% of its gains over draws (parameter and chance "
        "uncertainty together). These shares are estimated from "
        f"{draws} draws: with few draws they are rough (the standard error of a share p is "
        "√(p(1−p)/draws)). The gains' intervals describe these draws of one calibration (the "
        "same for the same seed, whatever the number of workers): a calibration with another "
        "seed, more particles or other targets can move the gain by more than these intervals, "
        "since they leave out how the posterior itself varies between calibrations; quote a "
        "size from many replicates, and a ranking sooner than a size.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>{rows}</tbody>\n</table>"
    return section("Under calibrated uncertainty", f'<p class="headline">{escape(lead)}</p>',
                   table, note)  # fmt: skip


def ranked_table(tables: SweepTables) -> str:
    """HTML table of the designs, best first, in planner units."""
    labels = design_labels(tables)
    several = len(tables.designs) > 1
    head = (
        '<tr><th>Rank</th><th class="design">Design</th>'
        "<th>Gain (index points, 95% CI)</th>"
        + ("<th>Minus the best (paired, 95% CI)</th>" if several else "")
        + "<th>Staff sent</th><th>Staff-months in Tokyo</th><th>Cost (IDR billion)</th>"
        f"<th>Present value of costs (IDR billion, {discount_rate(tables.meta):.0%})</th>"
        "<th>Cost per index point (IDR billion)</th><th>Months to target (median; share "
        "reached)</th></tr>"
    )
    rows = []
    for r in ranked(tables).itertuples():
        design = escape(labels[r.design_id])
        if r.efficient and several:
            design += '<span class="tag">efficient</span>'
        if not r.gain_clear:
            loss = interval_side(r.gain_ci_low, r.gain_ci_high) < 0
            design += f'<span class="tag">{"a loss" if loss else "no clear gain"}</span>'
        elif r.tied_with_best:
            design += '<span class="tag">tied with the best</span>'
        if r.gain_clear and r.no_clear_gain_over:
            cheaper = labels[r.no_clear_gain_over]
            design += (
                f'<br><span class="note">not clearly above the cheaper {escape(cheaper)}</span>'
            )
        mtt = r.months_to_target_median
        reached = f"{r.reached_target_share:.0%} reached"
        numbers = [f"{_num(r.gain_mean * POINTS)} ({_ci_range(r.gain_ci_low, r.gain_ci_high)})"]
        if several:
            numbers.append(
                "—"
                if r.rank == 1 and r.diff_vs_best_mean == 0
                else f"{_points(r.diff_vs_best_mean, True)} "
                f"({_ci_range(r.diff_vs_best_ci_low, r.diff_vs_best_ci_high)})"
            )
        numbers += [
            _people(r.staff_sent_mean),
            _people(r.staff_months_abroad_mean),
            _billion(r.cost_mean),
            _billion(getattr(r, "cost_present_value", math.nan)),
            "no clear gain" if pd.isna(r.cost_per_point) else _billion(r.cost_per_point),
            f"{'not reached' if pd.isna(mtt) else format_value(float(mtt))} ({reached})",
        ]
        cells = [f"<td>{int(r.rank)}</td>", f'<td class="design">{design}</td>']
        cells += [f"<td>{escape(v)}</td>" for v in numbers]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ranks = (
        f"Rank 1 has the largest mean gain over the final {FINAL_YEAR} months (which evens out "
        "months when a cohort happens to be away). 'Minus the best' is the paired difference "
        "from the rank-1 design on the same seeds: an interval that includes zero means the two "
        "cannot be told apart with this many replicates. "
        if several
        else f"The gain is the mean over the final {FINAL_YEAR} months (which evens out months "
        "when a cohort happens to be away). "
    )
    note = paragraph(
        ranks + "Staff sent and staff-months count real "
        f"Jakarta staff over the whole horizon; cost is its sum, the {_pv_words(tables)}. Cost "
        "per index point is the mean (undiscounted) cost divided by the mean gain, shown only "
        "when the gain is clear. Months to target is the median over "
        "replicates, counting a replicate that never reached the target as later than any that "
        "did: 'not reached' means that half or more never reached it.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    return section("Designs ranked by gain" if several else "The design", table, note)


def _ci_range(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI"
    return f"{_num(low * POINTS)} to {_num(high * POINTS)}"


def _effect_rows(effects: pd.DataFrame, level, diff, name) -> str:
    """Rows: outcome, no-exchange level, level with the design, difference (95% CI)."""
    rows = []
    for r in effects.itertuples():
        low, high = r.difference_ci_low, r.difference_ci_high
        tag = _clear_tag(low, high)
        ci = "no CI" if not math.isfinite(low) else f"{diff(low)} to {diff(high)}"
        rows.append(
            f"<tr><td class='design'>{escape(name(r.outcome))}</td>"
            f"<td>{escape(level(r.baseline_mean))}</td><td>{escape(level(r.value_mean))}</td>"
            f"<td>{escape(diff(r.difference_mean, True))} ({escape(ci)}){tag}</td></tr>"
        )
    return "\n".join(rows)


def _signed(fmt: str):
    """A formatter for levels and (with sign=True) differences."""
    return lambda x, sign=False: format(x, ("+" if sign else "") + fmt)


#: How the report names the outcomes of an effect (study.outcomes.Effect.names).
NAMES = {"domain": pretty, "practice": practice_name}


def meaning(tables: SweepTables) -> str:
    """What the best design's gain means: where it came from (`channels`), every effect of
    `study.outcomes.EFFECTS` (per service domain, staff proficient per practice, departments where a
    practice is standard procedure), the departments closest to standard procedures
    (`readiness`) and every outcome."""
    best = best_design(tables)
    label = design_labels(tables)[best]
    eff = tables.effects[tables.effects.design_id == best]
    blocks = [channels(tables)]
    rank = " (rank 1)" if len(tables.designs) > 1 else ""
    if not eff.empty:
        blocks.append(
            paragraph(
                f"For {label}{rank}: what changed compared with the same city without the "
                "exchange, mean of the replicates with the 95% interval of the paired "
                "difference. 'Not clear' marks a difference whose interval includes zero."
            )
        )
    for kind, effect in EFFECTS.items():
        part = eff[eff.kind == kind].sort_values("difference_mean", ascending=False)
        if part.empty:
            continue
        blocks.append(f"<h3>{escape(effect.heading)}</h3>")
        if effect.none and not part[["value_mean", "baseline_mean"]].to_numpy().any():
            blocks.append(paragraph(effect.none))
            continue
        level = _signed(effect.level_format)
        diff = (lambda x, sign=False: _points(x, sign)) if effect.points else level
        head = (
            f"<tr><th class='design'>{escape(effect.names.capitalize())}</th><th>No exchange"
            f"</th><th>With the design</th><th>Difference ({escape(effect.unit)}), 95% CI</th></tr>"
        )
        blocks.append(
            f"<table>\n<thead>{head}</thead>\n<tbody>\n"
            + _effect_rows(part, level, diff, NAMES[effect.names])
            + "\n</tbody>\n</table>"
        )
    blocks.append(readiness(tables, best))
    blocks.append(all_outcomes(tables, best))
    return section("What the gain means", *(b for b in blocks if b)) + planner_units_section(tables)


#: Counts of the final month the report gives beside the gain's parts: column -> (words for a
#: table row, words for a sentence, digits).
COUNTS = {
    "colleagues_proficient": (
        "Staff never trained by the program, proficient in a Tokyo practice (real staff, "
        "final month)",
        "staff who were never trained by the program were proficient in a Tokyo practice",
        0,
    ),
    "colleagues_proficient_without_sops": (
        "of whom learnt it from the trained and their colleagues: the same, without standard "
        "procedures (real staff, final month)",
        "of them would have been proficient without standard procedures (having learnt from the "
        "trained and their colleagues rather than on the job under an SOP)",
        0,
    ),
    "trained_proficient": (
        "Staff trained by the program, still proficient (real staff, final month)",
        "staff trained by the program were still proficient",
        0,
    ),
    "departments_with_sop": (
        "Departments with a Tokyo practice as SOP (final month)",
        "departments had a Tokyo practice as standard procedure",
        1,
    ),
}


NOT_DECOMPOSED = (
    "The gain was not decomposed by channel: this sweep ran with channels=false. Run the same "
    "command with channels=true (the default; two more runs of each replicate) to see how much "
    "of it came from the staff trained, from their colleagues and from standard procedures."
)


def _estimate(row: pd.Series, name: str) -> tuple[float, float, float]:
    """Mean and 95% interval of outcome `name` in a designs row (NaN where absent)."""
    return tuple(float(row.get(f"{name}_{k}", float("nan"))) for k in ("mean", "ci_low", "ci_high"))


def _count(x: float, digits: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:,.{digits}f}"


def _count_ci(low: float, high: float, digits: int) -> str:
    """A count's 95% interval, cut at zero (a count is never negative)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI"
    return f"{_count(max(low, 0.0), digits)} to {_count(max(high, 0.0), digits)}"


def _clear_tag(low: float, high: float) -> str:
    return "" if interval_side(low, high) else '<span class="tag">not clear</span>'


def no_exchange_final(tables: SweepTables, did: str, column: str) -> float:
    """Mean over design `did`'s replicates of `column` in the final month of the paired
    no-exchange runs (NaN when the baseline table lacks it)."""
    base = tables.baseline
    if base is None or column not in base:
        return float("nan")
    bid = tables.designs.set_index("design_id").loc[did, "baseline_id"]
    seeds = tables.summary.loc[tables.summary.design_id == did, "seed"].unique()
    base = base[(base.baseline_id == bid) & base.seed.isin(seeds)]
    return float(base.loc[base.month == base.month.max(), column].mean())


def channel_sentence(tables: SweepTables, did: str, label: str) -> str:
    """The design's gain and, with channels, its parts in one sentence; then its final-month
    counts of proficient staff and departments with an SOP."""
    row = tables.designs.set_index("design_id").loc[did]
    mean, low, high = _estimate(row, "gain")
    gain = f"{_points(mean)} index points ({_ci_text(low, high)})"
    if has_channels(tables.designs) and math.isfinite(row.get("gain_travellers_mean", math.nan)):
        t, c, o = (_points(row[f"{name}_mean"], True) for name in CHANNELS)
        text = (
            f"Under {label}, the gain of {gain} came {t} from the staff trained by the program "
            f"themselves, {c} from colleagues who learnt from them and {o} from standard "
            "procedures departments adopted (index points; the parts add up to the gain)."
        )
    else:
        text = f"Under {label}, the gain over no exchange was {gain}."
    counts = []
    for name, (_, words, digits) in COUNTS.items():
        m, lo, hi = _estimate(row, name)
        if not math.isfinite(m):
            continue
        without = no_exchange_final(tables, did, name)
        base = ""
        if name != "trained_proficient" and math.isfinite(without):
            base = "; none" if without == 0 else f"; {_count(without, digits)}"
            base += " without the exchange"
        counts.append(f"{_count(m, digits)} {words} ({_count_ci(lo, hi, digits)}{base})")
    if counts:
        text += " In the final month (means with 95% intervals), " + "; ".join(counts) + "."
    return text


def channel_table(tables: SweepTables, did: str) -> str:
    """One design's gain, its parts (with channels) and its final-month counts: mean and 95%
    interval each, in index points and real people."""
    row = tables.designs.set_index("design_id").loc[did]
    rows = []
    names = ["gain", *CHANNELS] if has_channels(tables.designs) else ["gain"]
    for name in names:
        mean, low, high = _estimate(row, name)
        if not math.isfinite(mean):
            continue
        words = "Gain over no exchange" if name == "gain" else "… through " + CHANNELS[name]
        tag = _clear_tag(low, high) if name != "gain" else ""
        rows.append(
            f"<tr><td class='design'>{escape(words)} (index points)</td>"
            f"<td>{escape(_points(mean, name != 'gain'))}</td>"
            f"<td>{escape(_ci_range(low, high))}{tag}</td></tr>"
        )
    for name, (words, _, digits) in COUNTS.items():
        mean, low, high = _estimate(row, name)
        if not math.isfinite(mean):
            continue
        rows.append(
            f"<tr><td class='design'>{escape(words)}</td><td>{escape(_count(mean, digits))}</td>"
            f"<td>{escape(_count_ci(low, high, digits))}</td></tr>"
        )
    head = "<tr><th class='design'>Outcome</th><th>Mean</th><th>95% CI</th></tr>"
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def channels_overview(tables: SweepTables) -> str:
    """Every design, best first: mean gain and (with channels) its parts in index points, staff
    never trained but proficient and departments with an SOP in the final month."""
    labels = design_labels(tables)
    points = {"gain": "Gain"}
    if has_channels(tables.designs):
        points |= {"gain_travellers": "Trained staff", "gain_colleagues": "Colleagues",
                   "gain_sops": "SOPs"}  # fmt: skip
    counts = {"colleagues_proficient": "Never trained, proficient (real staff)",
              "departments_with_sop": "Departments with an SOP"}  # fmt: skip
    counts = {c: w for c, w in counts.items() if f"{c}_mean" in tables.designs}
    head = "<tr><th>Rank</th><th class='design'>Design</th>"
    head += "".join(f"<th>{escape(w)} (index points)</th>" for w in points.values())
    head += "".join(f"<th>{escape(w)}</th>" for w in counts.values()) + "</tr>"
    rows = []
    for r in ranked(tables).itertuples():
        row = tables.designs.loc[tables.designs.design_id == r.design_id].iloc[0]
        values = [_points(row[f"{c}_mean"], c != "gain") for c in points]
        values += [_count(row[f"{c}_mean"], COUNTS[c][2]) for c in counts]
        rows.append(
            f"<tr><td>{int(r.rank)}</td><td class='design'>{escape(labels[r.design_id])}</td>"
            + "".join(f"<td>{escape(v)}</td>" for v in values)
            + "</tr>"
        )
    body = "\n".join(rows)
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def channels(tables: SweepTables) -> str:
    """Where the gain comes from: for the best design (and the reference design, if any) a
    sentence and a table of the gain, its parts and the final-month counts; a table of every
    design; or, without the decomposition, one sentence on how to get it."""
    labels = design_labels(tables)
    several = len(tables.designs) > 1
    shown = [(best_design(tables), " (rank 1)" if several else "")]
    reference = tables.meta.get("reference")
    if reference and reference != shown[0][0]:
        shown.append((reference, " (the reference design)"))
    blocks = ["<h3>Where the gain comes from</h3>"]
    if has_channels(tables.designs):
        blocks.append(
            paragraph(
                "Each replicate's gain is split by channel, adding them in causal order on the "
                "same seed: the staff trained by the program themselves (their absence from "
                "work can make this part negative), then colleagues who learnt from them, then "
                "standard procedures (SOPs) departments adopted on top. The parts add up "
                f"exactly to the gain (mean of the final {FINAL_YEAR} months, index points)."
            )
        )
    else:
        blocks.append(paragraph(NOT_DECOMPOSED))
    for did, role in shown:
        blocks.append(f"<h3>{escape(labels[did] + role)}</h3>")
        blocks.append(paragraph(channel_sentence(tables, did, labels[did])))
        blocks.append(channel_table(tables, did))
    if several:
        blocks.append("<h3>Every design</h3>")
        blocks.append(channels_overview(tables))
    blocks.append(
        paragraph(
            "Means of the replicates. 'Not clear' marks a part whose 95% interval includes "
            "zero. People are real staff at every scale, counted in the final month: staff "
            "never trained by the program (neither in Tokyo nor by visiting experts) but "
            "proficient in at least one Tokyo practice learnt it at home, from colleagues; "
            "intervals of counts are cut at zero.",
            "note",
        )
    )
    return "\n".join(blocks)


#: Departments the report lists in the readiness table.
READINESS_TOP = 10


def readiness(tables: SweepTables, did: str) -> str:
    """The departments of design `did` closest to standard procedures in the final month: the
    READINESS_TOP highest readiness (most advanced pilot as a multiple of its SOP threshold),
    with their SOPs and the share of replicates with one."""
    ready = tables.readiness
    if ready.empty:
        return ""
    ready = ready[ready.design_id == did]
    started = ready[(ready.sop_readiness_mean > 0) | (ready.sops_mean > 0)]
    top = started.sort_values(
        ["sop_readiness_mean", "sop_share", "sops_mean", "department"],
        ascending=[False, False, False, True],
    ).head(READINESS_TOP)
    label = design_labels(tables)[did]
    heading = "<h3>Departments closest to standard procedures (final month)</h3>"
    if top.empty:
        return heading + paragraph(
            f"Under {label}, no department had a pilot of a Tokyo practice under a champion "
            "with authority in the final month, so none was on its way to a standard "
            "procedure (SOP)."
        )
    lead = f"Under {label}, the {len(top)} departments with the highest readiness:"
    if len(started) < READINESS_TOP:
        lead = (
            f"Under {label}, only {len(started)} department(s) had a pilot of a Tokyo practice "
            "or an SOP in the final month (every other one is at 0 × threshold):"
        )
    rows = "\n".join(
        f"<tr><td class='design'>{escape(department_name(r.department))}</td>"
        f"<td class='design'>{escape(pretty(r.domain))}</td>"
        f"<td>{r.sop_readiness_mean:.2f} × threshold</td><td>{r.sops_mean:.1f}</td>"
        f"<td>{r.sop_share:.0%}</td></tr>"
        for r in top.itertuples()
    )
    head = (
        "<tr><th class='design'>Department</th><th class='design'>Service domain</th>"
        "<th>Readiness (mean)</th><th>SOPs (mean)</th><th>Replicates with an SOP</th></tr>"
    )
    reps = int(ready.replicates.max())
    note = paragraph(
        "Readiness is a department's most advanced pilot of a Tokyo practice (a unit under a "
        "champion with authority carrying it out) as a multiple of the practice's threshold "
        "for a standard procedure: at 1 × or more the department is ready and its champion "
        "adopts the SOP with a chance each month. Means over the "
        f"{reps} replicate(s); SOPs counts the practices that are standard procedure there. "
        "Every department's numbers are in aggregate/sop_readiness.csv.",
        "note",
    )
    table = f"<table>\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    return "\n".join([heading, paragraph(lead), table, note])


def _value(x: float, outcome) -> str:
    """An outcome's value as the report shows it: index points, IDR billion, a whole number of
    things (people, visits, departments), else three decimals (an index, a share)."""
    if not math.isfinite(x):
        return "n/a"
    if outcome.points:
        return f"{x * POINTS:.2f}"
    if outcome.money:
        return _billion(x)
    if outcome.count or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.3f}"


#: How the report names the unit of an outcome shown in IDR billion
#: (`study.outcomes.Outcome.money`).
MONEY = "IDR billion"


def all_outcomes(tables: SweepTables, did: str) -> str:
    """Every outcome of `study.outcomes.OUTCOMES` that designs average, for design `did`."""
    row = tables.designs.set_index("design_id").loc[did]
    rows = []
    for name, outcome in OUTCOMES.items():
        if outcome.summary != "mean" or f"{name}_mean" not in row:
            continue
        low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
        if outcome.count:  # a count is never negative
            low, high = max(low, 0.0), max(high, 0.0)
        ci = (
            "no CI"
            if not math.isfinite(low)
            else (f"{_value(low, outcome)} to {_value(high, outcome)}")
        )
        words = f"{outcome.words} ({MONEY})" if outcome.money else outcome.words
        rows.append(
            f"<tr><td class='design'>{escape(words)}</td>"
            f"<td>{escape(_value(row[f'{name}_mean'], outcome))}</td>"
            f"<td>{escape(ci)}</td></tr>"
        )
    head = "<tr><th class='design'>Outcome</th><th>Mean</th><th>95% CI</th></tr>"
    return (
        "<h3>Every outcome (mean of the replicates)</h3>\n"
        f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def figure_blocks(tables: SweepTables, figures: dict[str, Path], folder: Path) -> str:
    """Each figure with its heading and "how to read this" caption; paths relative to `folder`."""
    blocks = []
    for name, png in figures.items():
        heading, caption = PLOTS[name].heading, PLOTS[name].caption
        if name == "index_curves" and len(shown_designs(tables.designs)) < len(tables.designs):
            caption += " Only the five best designs and the lowest-ranked one are drawn."
        if name == "gain_channels" and len(tables.designs) > MAX_BARS:
            caption += (
                f" Only the {MAX_BARS - 1} best designs and the lowest-ranked one are drawn "
                "(below the dotted line); the table under 'What the gain means' has them all."
            )
        blocks.append(figure_block(heading, caption, png, folder))
    return section("Figures", *blocks)


def caveats(tables: SweepTables) -> str:
    reps = int(tables.meta.get("replicates", tables.designs["n"].max()))
    items = [
        "Every parameter of the model (how fast staff learn, forget, share and leave, what the "
        "exchange costs, how practices raise service quality) is an assumption or an estimate; "
        "each is documented with its unit, range and source in docs/model.md. The results show "
        "what follows from those assumptions; they are not a forecast.",
        "Gains are differences against the run without any exchange that used the same random "
        "seeds, so they are paired: chance differences between simulated cities cancel out.",
        (
            f"Each of the {reps} replicates drew the calibrated behavioural parameters from the "
            "posterior, so the 95% confidence intervals are of the mean gain over posterior "
            "draws; how far the gain itself varies with the parameters is the 90% range under "
            "'Under calibrated uncertainty'. Parameters that were not calibrated keep their "
            "configured values."
            if tables.under_posterior
            else f"The 95% confidence intervals are across the {reps} replicates (random seeds) "
            "only; they do not include the uncertainty of the parameters themselves "
            "(experiments/calibrate.py and posterior=... carry a calibrated posterior into the "
            "comparison)."
        ),
        "Costs are the direct program costs for real staff (staff-months in Tokyo and expert "
        "visits at assumed unit prices, constant over the run), summed over the whole period "
        f"and also given as a {_pv_words(tables)}. A budget's yearly cost is the whole "
        "period's cost spread evenly over its years; the gains are not discounted.",
    ]
    if float(tables.meta.get("scale", 1.0)) < 1:
        items.append(
            "The model ran on a scaled-down city; compare designs only with others run at the "
            "same scale, and rerun at full scale (scenario.scale=1.0) before quoting numbers."
        )
    return section("Caveats", "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in items) + "</ul>")


def provenance_block(tables: SweepTables) -> str:
    """Command, date, commit, code digest and package versions of this report."""
    prov = tables.meta.get("provenance", {})
    if not prov:
        return ""
    packages = ", ".join(f"{k} {v}" for k, v in prov.get("packages", {}).items())
    items = {
        "command": prov.get("command"),
        "run": prov.get("run_at"),
        "aggregated": prov.get("aggregated_at"),
        "git commit": prov.get("git_commit") or "not a git checkout",
        "code digest": prov.get("code_digest"),
        "packages": packages,
        "jobs": f"{len(prov.get('jobs', {}))} (keys in aggregate/provenance.json)",
    }
    rows = "".join(
        f'<dt>{escape(k)}</dt><dd class="code">{escape(str(v))}</dd>' for k, v in items.items()
    )
    note = paragraph(
        "The code digest covers the model's code and packaged data by contents; a job's results "
        "are reused only when its configuration, input files, code and package versions are "
        "unchanged.",
        "note",
    )
    return section("Provenance", f"<dl>{rows}</dl>", note)


def planner_units_words(row: pd.Series) -> str:
    """A design's gain also in Ombudsman points and months of Jakarta's own recent improvement
    (both assumed conversions, docs/model.md §7.17), or '' when the table lacks them."""
    names = [f"gain_{u}_{s}" for u in ("ombudsman", "own_months") for s in ("mean", "ci_low")]
    if not all(n in row.index and math.isfinite(row[n]) for n in names):
        return ""
    ci = math.isfinite(row.get("gain_ombudsman_ci_high", math.nan))

    def unit(name: str, digits: int) -> str:
        value = f"{row[f'{name}_mean']:+.{digits}f}"
        if not ci:
            return value
        return (
            f"{value} ({row[f'{name}_ci_low']:.{digits}f} to {row[f'{name}_ci_high']:.{digits}f})"
        )

    return (
        f"{unit('gain_ombudsman', 2)} Ombudsman compliance points and "
        f"{unit('gain_own_months', 1)} months of Jakarta's own recent improvement "
        "(assumed conversions, docs/model.md §7.17)"
    )


def planner_units_section(tables: SweepTables) -> str:
    """The best design's gain in units a planner knows, with the conversions' assumptions and
    ranges, and the no-exchange city following Jakarta's own trend."""
    best = tables.designs.iloc[0]
    words = planner_units_words(best)
    if not words:
        return ""
    trend = packaged_trend()
    index = float(tables.summary.baseline_final_index.mean())
    low, high = trend.yearly_range
    fast = own_months(best.gain_mean, index, trend, high)
    base = tables.baseline
    end = base[base.month == base.month.max()]
    with_trend = float(end.service_index_with_trend.mean())
    return section(
        "In units Jakarta reports",
        paragraph(
            f"The best design's gain, {_points(best.gain_mean, True)} index points, is about "
            f"{words}. Index points are converted by assuming that an index point closes the same "
            "share of the remaining gap to a perfect score as Ombudsman RI's compliance score: "
            f"today's no-exchange index ({index:.3f}) stands for the province's latest score "
            f"({trend.anchor_score:g}, {trend.anchor_year}), so one index point is "
            f"{_num(float(own_months(0.01, index, trend)), 1)} months and "
            f"{score_points_per_index_point(trend.anchor_score, index):.2f} Ombudsman points (an "
            "assumption: the two measure different things). Jakarta's own recent improvement is "
            f"the {low:.1%} of its gap to a perfect score that the Ombudsman score closed each "
            f"year from 2017 to 2021; at the {high:.0%} a year of 2015–2017, the catch-up years "
            f"of the first surveys, the gain would be {fast:+.1f} months."
        ),
        paragraph(
            "The model's service index leaves this own improvement out, so that gains are pure "
            "exchange effects. Added as an outside trend (the same for a design and its "
            "no-exchange run with the same seed, varying from year to year and seed to seed), "
            f"the no-exchange city would reach an index of {with_trend:.3f} by the final month "
            "(dotted line in the service-index figure; column service_index_with_trend of the "
            "timeseries and baseline tables). That trend is an extrapolation of four survey "
            "values from many causes, whose method changed after 2019, not a forecast.",
            "note",
        ),
    )


def write_report(tables: SweepTables, figures: dict[str, Path], out_path: Path, title: str) -> Path:
    """Write the HTML report to `out_path` atomically and return its path."""
    out_path = Path(out_path)
    body = "\n".join(
        part
        for part in (
            banners(tables),
            recommendation(tables),  # the answer first, in view without scrolling
            headline(tables),
            what_was_run(tables),
            posterior_section(tables),
            ranked_table(tables),
            meaning(tables),
            figure_blocks(tables, figures, out_path.parent),
            caveats(tables),
            provenance_block(tables),
        )
        if part
    )
    atomic_write_text(out_path, html_page(title, body))
    return out_path
