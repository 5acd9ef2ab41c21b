"""The compiled kernels equal the shared formulas of `sim.transfer` and `sim.rules`.

`sim.kernels` writes the gap rule, coaching, learning on the job, forgetting, who follows what
and the department sums out inline for speed; here each is checked against the formulas both
engines use (or a plain numpy statement of the rule), by hand and on random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import kernels, rules, transfer
from sim.network import ties_from_edges


def packed_snapshot(snap, will, home, rank, shares=None, coaching=None):
    """The packed snapshot the kernels read (`kernels.snapshot_packed`)."""
    n, n_pr = snap.shape
    shares = np.ones(n, bool) if shares is None else shares
    coaching = np.zeros(n, bool) if coaching is None else coaching
    packed = np.zeros((n, (n_pr + 3 + 15) // 16 * 16), dtype=np.float32)
    kernels.snapshot_packed(snap, will, home, rank, shares, coaching, packed, np.zeros(n, "f4"))
    return packed


def follows_learns(snap, home, rank, supervisor, dept, sop, theta):
    """The coverage rule in numpy: (follows, learns), bool (n, P) each."""
    champ = (snap >= theta) & (home & (rank > 0))[:, None]
    boss = np.where(supervisor >= 0, supervisor, 0)
    boss_champ = champ[boss] & (supervisor >= 0)[:, None]
    learns = sop[dept] | champ
    return learns | boss_champ, learns


def month_by_formula(a):
    """Gap rule, learning on the job and forgetting of `close_gaps_practise_forget`, from the
    shared formulas, with the contacts the kernel draws from `u`."""
    rows, u, ties, snap = a["rows"], a["u"], a["ties"], a["snap"]
    m = u.shape[1]
    contacts = np.empty((rows.size, m), dtype=np.int64)
    strength = np.empty((rows.size, m), dtype=np.float32)
    alias_keep, alias = ties.alias
    kernels.sample_contacts(
        ties.indptr, ties.indices, ties.weights, alias_keep, alias, rows, u, contacts, strength
    )
    valid = contacts >= 0
    j = np.where(valid, contacts, 0)
    up = transfer.upward_factor(a["rank"][j], a["rank"][rows][:, None], a["pd"])
    sender = transfer.sender_factor(strength, a["will"][j], up, valid & a["home"][j])
    p = a["prof"][rows].astype(np.float64)
    for c in range(m):
        rate = transfer.gap_rate(a["rate"], a["cap"][rows, None], sender[:, c, None], a["keep"])
        p = transfer.gap_step(p, snap[j[:, c]], rate)
    follows, learns = follows_learns(
        snap, a["home"], a["rank"], a["supervisor"], a["dept"], a["sop"], a["theta"]
    )
    practice = rules.learning_rate(a["practice"], a["cap"][rows, None], a["tacit"], 0.3)
    p = np.where(learns[rows], rules.learn(p, practice), p)
    used = follows[rows] | a["used"][rows]
    p = p * (1.0 - rules.forgetting_share(used, a["unused"], a["in_use"]))
    out = a["prof"].copy()
    out[rows] = p
    return out


def month_by_kernel(a):
    out = a["prof"].copy()
    alias_keep, alias = a["ties"].alias
    packed = packed_snapshot(a["snap"], a["will"], a["home"], a["rank"])
    kernels.close_gaps_practise_forget(
        out, packed, a["rows"], a["u"], a["ties"].indptr, a["ties"].indices, a["ties"].weights,
        alias_keep, alias, a["rank"], a["cap"], a["keep"], float(a["rate"]),
        np.float32(1.0 - a["pd"]), a["supervisor"], a["dept"], a["sop"],
        (1.0 - 0.3 * a["tacit"]).astype(np.float32), np.float32(a["practice"]),
        np.float32(a["theta"]), np.float32(a["unused"]), np.float32(a["in_use"]), a["used"],
    )  # fmt: skip
    return out


def by_hand_inputs(**kw):
    """A head (post 0) and a staff member (post 1) who reports to them, tied; three practices."""
    prof = np.array([[0.8, 0.8, 0.1], [0.2, 0.2, 0.9]], dtype=np.float32)
    base = dict(
        prof=prof,
        snap=prof.copy(),
        rows=np.array([1]),
        u=np.array([[0.3]]),
        ties=ties_from_edges(2, np.array([0]), np.array([1]), np.array([1.0])),
        home=np.array([True, True]),
        will=np.array([0.6, 0.6], dtype=np.float32),
        rank=np.array([3, 0], dtype=np.int8),
        cap=np.array([0.5, 0.5], dtype=np.float32),
        keep=np.array([1.0, 0.5, 1.0], dtype=np.float32),
        tacit=np.array([0.0, 0.5, 0.0]),
        rate=0.5,
        pd=0.4,
        supervisor=np.array([-1, 0], dtype=np.int32),
        dept=np.zeros(2, dtype=np.int32),
        sop=np.zeros((1, 3), dtype=bool),
        practice=0.0,
        theta=0.5,
        unused=0.1,
        in_use=0.0,
        used=np.zeros((2, 3), dtype=bool),
    )
    base.update(kw)
    return base


def test_gap_kernel_equals_the_formula_by_hand():
    """Post 1 (staff) meets its head once: it closes 0.5 x 0.5 x 1 x 0.6 = 0.15 of its gap of
    0.6 in practice a, half that in b (tacitness 0.5), nothing in c where it knows more. It
    follows a and b (its head masters them): no forgetting there; c is unused: 10% lost."""
    args = by_hand_inputs()
    expected = [0.2 + 0.15 * 0.6, 0.2 + 0.075 * 0.6, 0.9 * 0.9]
    kernel = month_by_kernel(args)
    assert kernel[1] == pytest.approx(expected, abs=1e-6)
    assert kernel[0].tolist() == args["prof"][0].tolist()  # not a receiver: untouched
    assert month_by_formula(args)[1] == pytest.approx(expected, abs=1e-6)
    # upward (staff to head) the gap closes damped by 1 - power distance; the head champions a
    # and b (in use) but not c, in which it was not coached either: 10% lost
    args["rows"] = np.array([0])
    up = month_by_kernel(args)[0]
    assert up[2] == pytest.approx((0.1 + 0.5 * 0.5 * 0.6 * 0.6 * 0.8) * 0.9, abs=1e-6)
    assert up == pytest.approx(month_by_formula(args)[0], abs=1e-6)


def test_learning_on_the_job_by_hand():
    """Practice a is standard procedure: the staff member learns 0.1 x 0.5 x 1 of its gap to
    full proficiency on the job (after the conversation), and it is in use."""
    sop = np.array([[True, False, False]])
    args = by_hand_inputs(sop=sop, practice=0.1, u=np.array([[0.3]]), rate=0.0)
    kernel = month_by_kernel(args)
    assert kernel[1, 0] == pytest.approx(0.2 + 0.8 * 0.05, abs=1e-6)
    assert kernel[1] == pytest.approx(month_by_formula(args)[1], abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_gap_kernel_equals_the_formula_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n, n_pr, n_dep = 200, 7, 5
    m = int(rng.integers(1, 6))
    edges = rng.integers(0, n - 20, size=(600, 2))  # the last 20 posts have no ties
    ties = ties_from_edges(n, edges[:, 0], edges[:, 1], rng.uniform(0.05, 1.0, 600))
    prof = rng.random((n, n_pr)).astype(np.float32)
    home = rng.random(n) < 0.8
    rows = np.flatnonzero(home)
    tacit = rng.random(n_pr)
    args = dict(
        prof=prof,
        snap=np.clip(prof + rng.normal(0, 0.2, prof.shape), 0, 1).astype(np.float32),
        rows=rows,
        u=rng.random((rows.size, m)),
        ties=ties,
        home=home,
        will=rng.random(n).astype(np.float32),
        rank=rng.integers(0, 4, n).astype(np.int8),
        cap=rng.random(n).astype(np.float32),
        keep=(1.0 - tacit).astype(np.float32),
        tacit=tacit,
        rate=float(rng.random()),
        pd=float(rng.random()),
        supervisor=np.where(rng.random(n) < 0.9, rng.integers(0, n, n), -1).astype(np.int32),
        dept=np.sort(rng.integers(0, n_dep, n)).astype(np.int32),
        sop=rng.random((n_dep, n_pr)) < 0.3,
        practice=float(rng.random()),
        theta=0.5,
        unused=0.08,
        in_use=0.01,
        used=rng.random((n, n_pr)) < 0.1,
    )
    kernel = month_by_kernel(args)
    formula = month_by_formula(args)
    np.testing.assert_allclose(kernel, formula, rtol=1e-5, atol=1e-6)
    assert np.array_equal(kernel[~home], prof[~home])  # only receivers change
    assert (kernel[rows] != prof[rows]).any()


def coach_by_formula(prof, snap, coach_factor, home, ties, rank, cap, side_keep, rate, pd, theta):
    """Coaching from the shared formulas, receiver by receiver over its ties in order."""
    out = prof.astype(np.float64)
    used = np.zeros(prof.shape, dtype=bool)
    used |= (coach_factor > 0)[:, None] & (snap >= theta)
    for i in np.flatnonzero(home):
        nb, w = ties.neighbours(i)
        for j, strength in zip(nb, w, strict=True):
            if coach_factor[j] <= 0:
                continue
            up = transfer.upward_factor(rank[j], rank[i], pd)
            r = transfer.coach_rate(rate, cap[i], strength * coach_factor[j] * up, side_keep)
            out[i] = transfer.coach_step(out[i], snap[j], r, theta)
            used[i] |= snap[j] >= theta
    return out, used


@pytest.mark.parametrize("seed", range(4))
def test_coach_kernel_equals_the_formula_on_random_inputs(seed):
    """Coach by coach over the coaches' ties gives what a pass over each coachee's ties gives:
    the same coaches, in the same (ascending) order."""
    rng = np.random.default_rng(seed)
    n, n_pr = 150, 6
    edges = rng.integers(0, n, size=(500, 2))
    ties = ties_from_edges(n, edges[:, 0], edges[:, 1], rng.uniform(0.05, 1.0, 500))
    prof = rng.random((n, n_pr)).astype(np.float32)
    snap = np.clip(prof + rng.normal(0, 0.3, prof.shape), 0, 1).astype(np.float32)
    home = rng.random(n) < 0.85
    coaching = rng.random(n) < 0.15
    will = rng.random(n).astype(np.float32)
    rank = rng.integers(0, 4, n).astype(np.int8)
    cap = rng.random(n).astype(np.float32)
    side_keep = (1.0 - 0.3 * rng.random(n_pr)).astype(np.float32)
    rate, pd, theta = float(rng.random()), float(rng.random()), 0.5
    packed = packed_snapshot(snap, will, home, rank, coaching=coaching)
    coach_factor = packed[:, n_pr + 2]
    out = prof.copy()
    used = np.zeros(prof.shape, dtype=bool)
    kernels.coach(
        out, packed, np.flatnonzero(coach_factor > 0), home, ties.indptr, ties.indices,
        ties.weights, rank, cap, side_keep, np.float32(rate), np.float32(1.0 - pd),
        np.float32(theta), used,
    )  # fmt: skip
    expected, expected_used = coach_by_formula(
        prof, snap, coach_factor, home, ties, rank, cap, side_keep, rate, pd, theta
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(used, expected_used)
    assert np.array_equal(out[~home], prof[~home])
    assert (out != prof).any()


@pytest.mark.parametrize("seed", range(3))
def test_coverage_and_department_sums_equal_the_rules_on_random_inputs(seed):
    """Who follows and learns what, and each department's execution, pilot, champions and
    people counts, against a plain statement of the rules."""
    rng = np.random.default_rng(seed)
    n_dep, n_pr, theta = 4, 5, 0.5
    sizes = rng.integers(3, 40, n_dep)
    dept = np.repeat(np.arange(n_dep), sizes).astype(np.int32)
    n = dept.size
    start = np.concatenate([[0], np.cumsum(sizes)])
    rank = rng.integers(0, 4, n).astype(np.int8)
    supervisor = np.array(
        [rng.integers(start[d], start[d + 1]) if rng.random() < 0.9 else -1 for d in dept],
        dtype=np.int32,
    )
    prof = rng.random((n, n_pr)).astype(np.float32)
    home = rng.random(n) < 0.85
    sop = rng.random((n_dep, n_pr)) < 0.25
    trained = rng.random(n) < 0.2
    out = np.empty((n, n_pr), dtype=np.uint8)
    kernels.coverage(prof, home, rank, supervisor, dept, sop, np.float32(theta), out)
    follows, learns = follows_learns(prof, home, rank, supervisor, dept, sop, theta)
    assert np.array_equal((out & kernels.FOLLOWS) != 0, follows)
    assert np.array_equal((out & kernels.LEARNS) != 0, learns)

    slot = np.where(rank >= 2, np.cumsum(rank >= 2) - 1, -1).astype(np.int32)
    inside = (supervisor >= 0) & (dept[np.maximum(supervisor, 0)] == dept)
    reports = np.bincount(supervisor[inside], minlength=n).astype(np.int32)
    execution, pilot, led, proficient, totals, people = kernels.department_sums(
        prof, start, rank, supervisor, slot, int((rank >= 2).sum()), reports, home, sop,
        trained, np.float32(theta),
    )  # fmt: skip
    good = prof >= theta
    carries = good & home[:, None] & follows
    champion = good & (home & (rank > 0))[:, None]
    any_good = good.any(axis=1)
    for d in range(n_dep):
        mine = dept == d
        assert np.array_equal(execution[d], carries[mine].sum(axis=0))
        assert np.array_equal(led[d], champion[mine].any(axis=0))
        assert np.array_equal(proficient[d], good[mine].sum(axis=0))
        assert totals[d] == pytest.approx(prof[mine].sum(axis=0), rel=1e-6)
        assert people[d].tolist() == [
            int((mine & trained).sum()), int((mine & trained & any_good).sum()),
            int((mine & ~trained & any_good).sum()),
        ]  # fmt: skip
        best = np.zeros(n_pr)
        for j in np.flatnonzero(mine & (rank >= 2) & home):
            unit = inside & (supervisor == j) & home
            share = (1 + good[unit].sum(axis=0)) / (1 + reports[j])
            best = np.where(good[j], np.maximum(best, share), best)
        np.testing.assert_allclose(pilot[d], best)
