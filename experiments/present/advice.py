"""The report's first section, "What should we do?": the design to choose at each budget level in
the sweep, the cheapest design reaching the target, the efficient designs, costs undiscounted
and as a present value.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import (
    SweepTables,
    budget_choices,
    cheapest_reaching,
    discount_rate,
    years,
)
from experiments.present import words
from experiments.present.labels import design_labels
from experiments.present.markup import paragraph, section


def _gain_ci(mean: float, low: float, high: float) -> str:
    """'+0.83 (0.61 to 1.05)': a gain in index points with its 95% interval."""
    return f"{words.points(mean, True)} ({words.ci_range(low, high)})"


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
    cost = f"IDR {words.billion(top.cost_per_year)} billion a year" + (
        ", the dearest design of the sweep" if dearest else ""
    )
    p_best = f", P(best) {_share(row.get('p_best', math.nan))}" if len(d) > 1 else ""
    gain = (
        f"{words.points(top.gain_mean, True)} index points "
        f"({words.ci_text(top.gain_ci_low, top.gain_ci_high)}{p_best})"
    )
    side = interval_side(top.gain_ci_low, top.gain_ci_high)
    if len(d) == 1:
        lead = f"{labels[top.design_id]} ({cost}): {gain}, {words.SAYS[side][1]}."
    elif side > 0:
        lead = f"With the sweep's largest budget, choose {labels[top.design_id]} ({cost}): {gain}."
    else:
        lead = (
            "No design clearly raised the city service index: do not expect a gain from any of "
            f"them. The design with the largest mean gain was {labels[top.design_id]} ({cost}): "
            f"{gain}, {words.SAYS[side][1]}."
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
            f"from IDR {words.billion(prev.cost_per_year)} billion a year (the paired 95% interval "
            "of the difference includes zero): the extra money buys no gain that can be told apart."
        )
    target = float(tables.meta.get("target_gain", 0.005))
    reach, clearly = cheapest_reaching(tables.designs, target)
    goal = f"the target of {words.points(target)} index points"
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
            per_year = f"IDR {words.billion(reach.cost_mean / years(tables))} billion a year"
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
        tag = words.clear_tag(r.gain_ci_low, r.gain_ci_high)
        more = (
            "—"
            if not r.previous_id
            else _gain_ci(r.diff_vs_previous_mean, r.diff_vs_previous_ci_low,
                          r.diff_vs_previous_ci_high)
            + words.clear_tag(r.diff_vs_previous_ci_low, r.diff_vs_previous_ci_high)
        )  # fmt: skip
        rows.append(
            f"<tr><td>{words.billion(r.cost_per_year)}</td>"
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
        f"<td>{words.billion(r.cost_mean / years(tables))}</td>"
        f"<td>{words.billion(getattr(r, 'cost_present_value', math.nan))}</td>"
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
    lead_words, more = recommendation_lead(tables, choices)
    lead = f'<p class="headline" id="recommendation">{escape(lead_words)}</p>'
    if more:
        lead += "\n" + paragraph(more)
    if len(tables.designs) == 1:
        return section("What should we do?", lead)
    shares = words.shares_of(tables.designs.iloc[0]) or "the paired replicates"
    note = paragraph(
        "A budget affords the designs whose cost per year (the whole horizon's cost spread "
        f"evenly over its {years(tables):g} years) is at most that much; the choice is the one "
        "with the largest mean gain among them, and a row appears where a larger budget "
        "changes it. P(best at that budget) is the share of "
        f"{shares} on which the choice had the largest gain of the designs costing at most its "
        "own yearly cost. "
        "'More than the choice above' is the paired difference from the previous row's design; "
        "'not clear' marks an interval that includes zero (the extra money buys no gain that "
        f"can be told apart). Money is in IDR billion; {words.present_value_words(tables)}.",
        "note",
    )
    return section(
        "What should we do?", lead, budget_table(tables, choices), note, efficient_table(tables)
    )
