"""The words the report and the terminal put around a gain follow its interval by one rule
(`tables.interval_side`, `report.gain_words`), and the headline gives P(best), P(gain > 0),
the resolved comparisons and the behaviour it was computed under: on small hand-made tables."""

from __future__ import annotations

import dataclasses
import html
import math
import re

import pytest

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import replicate_ranking
from experiments.present.report import PACKAGE, behaviour_sentence, headline
from experiments.present.terminal import headline_line, print_ranking
from experiments.present.words import NAMED, gain_words
from tests.present.test_figures_report import COST, GAINS, hand_designs


def _text(fragment: str) -> str:
    """An HTML fragment as the reader sees it: tags removed, entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


@pytest.mark.parametrize(
    ("low", "high", "side"),
    [
        (0.001, 0.004, 1),
        (-0.004, -0.001, -1),
        (-0.001, 0.004, 0),
        (0.0, 0.004, 0),  # touching zero does not exclude it
        (-0.004, 0.0, 0),
        (math.nan, math.nan, 0),  # one replicate: no interval
    ],
)
def test_interval_side(low, high, side):
    assert interval_side(low, high) == side


def test_gain_words_say_what_the_interval_allows():
    up = gain_words(0.004, 0.002, 0.006)
    assert up == (
        "raised the city service index by 0.40 index points (95% CI 0.20 to 0.60): a clear gain"
    )
    down = gain_words(-0.004, -0.006, -0.002)
    assert down == (
        "lowered the city service index by 0.40 index points (95% CI -0.60 to -0.20): a loss"
    )
    unsure = gain_words(-0.001, -0.003, 0.001, note="3 paired replicates")
    assert unsure == (
        "changed the city service index by -0.10 index points (95% CI -0.30 to 0.10; 3 paired "
        "replicates): cannot be told apart from no gain"
    )
    one = gain_words(0.004, math.nan, math.nan)
    assert "no interval: one replicate" in one and one.endswith("cannot be told apart from no gain")


def test_p_best_and_p_gain_positive_are_shares_of_the_paired_seeds():
    """dear has the largest gain on seeds 0, 2 and 4, middle on 1 and 3; noisy's gain is above
    zero on seeds 0 and 2."""
    shares, _ = replicate_ranking(hand_designs(GAINS, COST).summary)
    shares = shares.set_index("design_id")
    assert shares.p_best.to_dict() == {"cheap": 0.0, "dear": 0.6, "middle": 0.4, "noisy": 0.0}
    assert shares.p_gain_positive["noisy"] == 0.4 and shares.p_gain_positive["dear"] == 1.0
    assert (shares.paired_replicates == 5).all()


def test_headline_gives_p_best_and_p_gain_positive_beside_the_interval():
    lead = _text(headline(hand_designs(GAINS, COST))).split("Resolved")[0]
    assert (
        "it raised the city service index by 2.20 index points (95% CI 1.20 to 3.20; P(best) "
        "60%, P(gain > 0) 100%: shares of the 5 paired replicates): a clear gain." in lead
    )
    drawn = _text(headline(hand_designs(GAINS, COST, drawn=True)))
    assert "P(best) 60%, P(gain > 0) 100%: shares of the 5 posterior draws" in drawn
    single = _text(headline(hand_designs({"dear": GAINS["dear"]}, COST)))
    assert "P(gain > 0) 100%: shares of the 5 paired replicates" in single
    assert "P(best)" not in single  # one design is always best


def test_a_gain_whose_interval_is_below_zero_is_a_loss_everywhere():
    gains = {**GAINS, "harmful": [-0.010, -0.012, -0.009, -0.011, -0.010]}
    text = _text(headline(hand_designs(gains, {**COST, "harmful": 300.0})))
    loss = "1 design(s) lowered the city service index (a loss: the whole 95% interval below "
    assert loss + "zero): harmful." in text
    unclear = text[text.index("cannot be told apart from zero") :].split(".")[0]
    assert "noisy" in unclear and "harmful" not in unclear
    # the best design itself a loss: no "cannot be told apart" about it
    losses = {"a": [-0.010, -0.012, -0.011], "b": [-0.020, -0.022, -0.021]}
    text = _text(headline(hand_designs(losses, {"a": 1.0, "b": 2.0})))
    assert "No design clearly raised the city service index" in text
    lead = "a had the largest mean gain: after 10 years, compared with no exchange, it lowered "
    assert lead + "the city service index by 1.10 index points" in text
    assert "Resolved: better than every other design" in text
    assert "1 design(s) lowered the city service index (a loss" in text and "told apart" not in text
    single = _text(headline(hand_designs({"b": losses["b"]}, {"b": 2.0})))
    assert "it lowered the city service index by 2.10 index points" in single
    assert ": a loss." in single and "told apart" not in single


def test_resolved_comparisons_are_named_and_long_lists_capped():
    # the best, then 9 designs each clearly below it on every seed, and 2 that are not
    base = [0.030, 0.031, 0.029, 0.030]
    gains = {"best": base}
    for k in range(9):
        gains[f"low{k}"] = [g - 0.010 - 0.001 * k for g in base]
    gains["close1"] = [0.031, 0.028, 0.030, 0.029]
    gains["close2"] = [0.029, 0.032, 0.028, 0.030]
    text = _text(headline(hand_designs(gains, dict.fromkeys(gains, 1.0))))
    resolved = text[text.index("Resolved: better than") :].split(". ")[0]
    assert resolved.count("low") == NAMED and "and 3 more (paired 95% intervals" in resolved
    assert "Not resolved: close1; close2." in text or "Not resolved: close2; close1." in text


def test_behaviour_sentence_names_the_posterior_and_what_it_calibrated():
    tables = hand_designs(GAINS, COST, drawn=True)

    def said(posterior: dict) -> str:
        return behaviour_sentence(dataclasses.replace(tables, meta={"posterior": posterior}))

    packaged = said({"packaged": True, "path": "x", "draws": 1000,
                     "parameters": ["abroad_learning_rate", "forgetting_rate", "transfer_rate"],
                     "calibrated": ["abroad_learning_rate", "forgetting_rate"],
                     "from_ranges": ["transfer_rate"]})  # fmt: skip
    assert packaged.startswith("Behaviour: drawn from the packaged posterior (1,000 draws). ")
    roles = "abroad_learning_rate and forgetting_rate calibrated to evidence; transfer_rate not "
    assert (
        roles + "calibrated but drawn from their stated plausible ranges, as uncertainty"
        in packaged
    )
    # a user's file whose metadata says nothing more: its path and its parameters
    own = said({"path": "/data/my_posterior.parquet", "draws": 50, "parameters": ["a", "b"]})
    assert own.startswith("Behaviour: drawn from the posterior file /data/my_posterior.parquet")
    assert "parameters (a and b) from one draw" in own and "packaged" not in own
    assert said({}).startswith("Behaviour: drawn from a posterior file. ")  # nothing recorded
    shipped = said({"path": str(PACKAGE / "data" / "posterior_draws.parquet")})
    assert shipped.startswith("Behaviour: drawn from the packaged posterior. ")  # by its path
    none = behaviour_sentence(hand_designs(GAINS, COST))
    assert none.startswith("Behaviour: assumed defaults (posterior=none).")
    assert "not drawn from a posterior" in none and "seeds only" in none


def test_terminal_ranking_and_line_follow_the_same_rule(capsys):
    gains = {**GAINS, "harmful": [-0.010, -0.012, -0.009, -0.011, -0.010]}
    tables = hand_designs(gains, {**COST, "harmful": 300.0})
    designs = tables.designs.sort_values("rank", ignore_index=True)
    for c in ("staff_months_abroad_mean", "n"):
        designs[c] = 5
    print_ranking(designs, top=10)
    out = capsys.readouterr().out
    assert "P(best) and P(gain > 0) are shares of the 5 paired replicates" in out
    rows = {line.split()[1]: line for line in out.splitlines() if re.match(r"\s+\d+\. ", line)}
    assert rows["dear"].rstrip().endswith("P(best) 60%, P(gain > 0) 100%")
    assert rows["noisy"].rstrip().endswith("(cannot be told apart from no gain)")
    assert rows["harmful"].rstrip().endswith("P(gain > 0) 0%  (a loss)")
    assert (
        "  the best design against each other one: Resolved: better than cheap; noisy; harmful "
        "(paired 95% intervals exclude zero). Not resolved: middle.\n"
    ) in out
    line = headline_line(designs[designs.design_id == "harmful"])
    assert line.startswith(
        "gain over no exchange in the final year: it lowered the city service index by 1.04 "
        "index points (95% CI"
    )
    assert "P(gain > 0) 0%: shares of the 5 paired replicates): a loss;" in line
