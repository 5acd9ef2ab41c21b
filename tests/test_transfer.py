"""The compiled gap kernel equals the shared peer-transfer formulas of `sim.transfer`.

`kernels.close_gaps_and_forget` writes the gap rule (and forgetting) out inline for speed; here it
is checked against the formulas both engines use, by hand and on random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import kernels, rules, transfer
from sim.network import ties_from_edges


def run_kernel(prof, snap, rows, u, ties, home, will, rank, cap, keep, rate, pd, forget, dept):
    out = prof.copy()
    alias_keep, alias = ties.alias
    packed = np.zeros((snap.shape[0], 16), dtype=np.float32)
    kernels.snapshot_packed(snap, will, home, rank, packed, np.zeros(snap.shape[0], np.float32))
    kernels.close_gaps_and_forget(
        out,
        packed,
        rows,
        u,
        ties.indptr,
        ties.indices,
        ties.weights,
        alias_keep,
        alias,
        rank,
        cap,
        keep,
        float(rate),
        np.float32(1.0 - pd),
        forget.astype(np.float32),
        dept,
    )
    return out


def by_formula(prof, snap, rows, u, ties, home, will, rank, cap, keep, rate, pd, forget, dept):
    """The same month from the shared formulas, with the contacts the kernel draws from `u`."""
    m = u.shape[1]
    contacts = np.empty((rows.size, m), dtype=np.int64)
    strength = np.empty((rows.size, m), dtype=np.float32)
    alias_keep, alias = ties.alias
    kernels.sample_contacts(
        ties.indptr, ties.indices, ties.weights, alias_keep, alias, rows, u, contacts, strength
    )
    valid = contacts >= 0
    j = np.where(valid, contacts, 0)
    up = transfer.upward_factor(rank[j], rank[rows][:, None], pd)
    sender = transfer.sender_factor(strength, will[j], up, valid & home[j])
    p = prof[rows].astype(np.float64)
    delta = np.zeros_like(p)
    for c in range(m):
        r = transfer.gap_rate(rate, cap[rows, None], sender[:, c, None], keep)
        delta += transfer.gap_increment(p, snap[j[:, c]], r)
    out = prof.copy()
    out[rows] = transfer.after_gaps(p, delta, m) * (1.0 - forget[dept[rows]])
    return out


def test_kernel_equals_the_formula_by_hand():
    """Post 1 (staff) meets its head, post 0, once: it closes 0.5 x 0.5 x 1 x 0.6 = 0.15 of its
    gap of 0.6 in practice a, and half that in b (tacitness 0.5); nothing where it knows more;
    then forgets 10% of the result."""
    ties = ties_from_edges(2, np.array([0]), np.array([1]), np.array([1.0]))
    prof = np.array([[0.8, 0.8, 0.1], [0.2, 0.2, 0.9]], dtype=np.float32)
    args = dict(
        snap=prof.copy(),
        rows=np.array([1]),
        u=np.array([[0.3]]),
        ties=ties,
        home=np.array([True, True]),
        will=np.array([0.6, 0.6], dtype=np.float32),
        rank=np.array([3, 0], dtype=np.int8),
        cap=np.array([0.5, 0.5], dtype=np.float32),
        keep=np.array([1.0, 0.5, 1.0], dtype=np.float32),
        rate=0.5,
        pd=0.4,
        forget=np.full((1, 3), 0.1),
        dept=np.zeros(2, dtype=np.int32),
    )
    expected = np.array([0.2 + 0.15 * 0.6, 0.2 + 0.075 * 0.6, 0.9]) * 0.9
    kernel = run_kernel(prof, **args)
    assert kernel[1] == pytest.approx(expected, abs=1e-6)
    assert kernel[0].tolist() == prof[0].tolist()  # not a receiver: untouched
    assert by_formula(prof, **args)[1] == pytest.approx(expected, abs=1e-6)
    # upward (staff to head) the gap closes damped by 1 - power distance
    args["rows"] = np.array([0])
    up = run_kernel(prof, **args)[0]
    assert up[2] == pytest.approx((0.1 + 0.5 * 0.5 * 0.6 * 0.6 * 0.8) * 0.9, abs=1e-6)
    assert up == pytest.approx(by_formula(prof, **args)[0], abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_kernel_equals_the_formula_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n, n_pr, n_dep = 200, 7, 5
    m = int(rng.integers(1, 6))
    edges = rng.integers(0, n - 20, size=(600, 2))  # the last 20 posts have no ties
    ties = ties_from_edges(n, edges[:, 0], edges[:, 1], rng.uniform(0.05, 1.0, 600))
    prof = rng.random((n, n_pr)).astype(np.float32)
    home = rng.random(n) < 0.8
    rows = np.flatnonzero(home)
    args = dict(
        snap=np.clip(prof + rng.normal(0, 0.2, prof.shape), 0, 1).astype(np.float32),
        rows=rows,
        u=rng.random((rows.size, m)),
        ties=ties,
        home=home,
        will=rng.random(n).astype(np.float32),
        rank=rng.integers(0, 4, n).astype(np.int8),
        cap=rng.random(n).astype(np.float32),
        keep=(1.0 - rng.random(n_pr)).astype(np.float32),
        rate=float(rng.random()),
        pd=float(rng.random()),
        forget=rules.forgetting_share(
            0.05, 0.5, rng.random((n_dep, n_pr)), rng.random((n_dep, n_pr)) < 0.3, 0.25
        ),
        dept=np.sort(rng.integers(0, n_dep, n)).astype(np.int32),
    )
    kernel = run_kernel(prof, **args)
    formula = by_formula(prof, **args)
    np.testing.assert_allclose(kernel, formula, rtol=1e-5, atol=1e-6)
    assert np.array_equal(kernel[~home], prof[~home])  # only receivers change
    assert (kernel[rows] != prof[rows]).any()
