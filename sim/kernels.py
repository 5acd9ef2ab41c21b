"""Compiled (numba) loops for the hot paths of the vectorised engine.

Each kernel is one pass over the staff arrays, doing only the necessary memory traffic: contact
sampling from the CSR ties, casual peer learning by the gap rule, coaching fused with learning on
the job and forgetting, and the per-department sums that institutions and reporters need. Random numbers are drawn by numpy in
batches before the call, so kernels are deterministic functions of their inputs. The formulas are
those of `sim.transfer` (gap rule, coaching) and `sim.rules` (learning, forgetting), written out
inline because numba cannot call numpy-generic helpers; tests/test_transfer.py checks the
kernels against them.
Compiled code is cached on disk (`cache=True`), so only the first run on a machine compiles.
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np

# The process that first ran a parallel kernel. GNU OpenMP (numba's fastest layer here) kills a
# forked child that enters a parallel region once its parent has, even with one thread; pyabc's
# samplers fork. A forked child of such a parent runs the serial twins instead: the same result
# (tests/test_model_api.py), about half the speed in the gap kernel (only parfor bodies are
# compiled without aliasing, so the serial loop does not vectorise as well).
_parallel_pid: int | None = None


def parallel() -> bool:
    """Whether this process may run the parallel kernels: it is the one that ran them first."""
    global _parallel_pid
    if _parallel_pid is None:
        _parallel_pid = os.getpid()
    return _parallel_pid == os.getpid()


@nb.njit(cache=True)
def alias_tables(indptr, weights):
    """Walker/Vose alias tables per CSR row, so that a tie can be drawn in O(1) with
    probability proportional to its strength: (keep probability (nnz,), alias edge (nnz,))."""
    nnz = weights.size
    keep = np.ones(nnz, dtype=np.float64)
    alias = np.arange(nnz).astype(np.int32)  # edge numbers fit: half the memory of int64
    small = np.empty(nnz, dtype=np.int64)
    large = np.empty(nnz, dtype=np.int64)
    scaled = np.empty(nnz, dtype=np.float64)
    for i in range(indptr.size - 1):
        lo, hi = indptr[i], indptr[i + 1]
        deg = hi - lo
        if deg == 0:
            continue
        total = 0.0
        for e in range(lo, hi):
            total += weights[e]
        ns = 0
        nl = 0
        for e in range(lo, hi):
            scaled[e] = weights[e] * deg / total
            if scaled[e] < 1.0:
                small[ns] = e
                ns += 1
            else:
                large[nl] = e
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s_ = small[ns]
            g = large[nl - 1]
            keep[s_] = scaled[s_]
            alias[s_] = g
            scaled[g] = scaled[g] + scaled[s_] - 1.0
            if scaled[g] < 1.0:
                nl -= 1
                small[ns] = g
                ns += 1
        # what is left has scaled weight 1 up to rounding: always kept
    return keep, alias


@nb.njit(cache=True)
def sample_contacts(indptr, indices, weights, keep, alias, rows, u, contacts, strength):
    """Fill contacts/strength (len(rows), m) with ties drawn with probability proportional to
    strength (alias method: one uniform per draw); -1 and 0 when a post has no ties."""
    m = u.shape[1]
    for r in range(rows.size):
        i = rows[r]
        lo = indptr[i]
        deg = indptr[i + 1] - lo
        for c in range(m):
            if deg == 0:
                contacts[r, c] = -1
                strength[r, c] = 0.0
                continue
            x = u[r, c] * deg
            slot = min(int(x), deg - 1)
            e = lo + slot
            if x - slot >= keep[e]:
                e = alias[e]
            contacts[r, c] = indices[e]
            strength[r, c] = weights[e]


def snapshot_packed(values, willingness, home, rank, shares, coaching, packed, means):
    """Write the start-of-month snapshot into `packed`, one row of float32 per person padded to
    whole 64-byte cache lines: proficiency (P columns); then the person as a sender (column P):
    their willingness if at home and they pass knowledge on (`shares`), 0 if they pass nothing
    on, -1 if abroad; their rank (column P + 1); and the person as a coach (column P + 2): their
    willingness if at home, passing knowledge on and in their sharing months (`coaching`), else
    0. The float32 mean of each proficiency row goes into `means`. A contact's row is then one
    memory read in the transfer kernels. Rows are independent: numba's threads share them."""
    (_snapshot_parallel if parallel() else _snapshot_serial)(
        values, willingness, home, rank, shares, coaching, packed, means
    )


@nb.njit(cache=True, inline="always")
def _snapshot_row(i, values, willingness, home, rank, shares, coaching, packed, means):
    k = values.shape[1]
    acc = 0.0
    for j in range(k):
        v = values[i, j]
        packed[i, j] = v
        acc += v
    means[i] = acc / k
    if not home[i]:
        packed[i, k] = np.float32(-1.0)
        packed[i, k + 2] = np.float32(0.0)
    elif not shares[i]:
        packed[i, k] = np.float32(0.0)
        packed[i, k + 2] = np.float32(0.0)
    else:
        packed[i, k] = willingness[i]
        packed[i, k + 2] = willingness[i] if coaching[i] else np.float32(0.0)
    packed[i, k + 1] = rank[i]


@nb.njit(cache=True, parallel=True)
def _snapshot_parallel(values, willingness, home, rank, shares, coaching, packed, means):
    for i in nb.prange(values.shape[0]):
        _snapshot_row(i, values, willingness, home, rank, shares, coaching, packed, means)


@nb.njit(cache=True)
def _snapshot_serial(values, willingness, home, rank, shares, coaching, packed, means):
    for i in range(values.shape[0]):
        _snapshot_row(i, values, willingness, home, rank, shares, coaching, packed, means)


def close_gaps(
    proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias, rank, capacity,
    keep, transfer_rate, upward,
):  # fmt: skip
    """Gap rule for each receiver in `rows`, in place, drawing its m contacts (m = u.shape[1])
    from its ties as `sample_contacts` does; contacts are read from the packed snapshot
    (`snapshot_packed`). Contact by contact, in the order drawn:

    p_ik += transfer_rate * capacity_i * strength * willingness_j * upward(j, i)
            * (1 - tacitness_k) * max(s_jk - p_ik, 0)

    so each contact closes its share of what is left of the gap and more contacts mean more
    exposure. Arithmetic in float32, like the state. This is `transfer.gap_rate` and
    `transfer.gap_step` written out inline."""
    (_close_gaps_parallel if parallel() else _close_gaps_serial)(
        proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias, rank, capacity,
        keep, transfer_rate, upward,
    )  # fmt: skip


@nb.njit(cache=True, inline="always")
def _close_gaps_one(r, proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias,
                    rank, capacity, keep, transfer_rate, upward, row):  # fmt: skip
    """One receiver of `close_gaps` (rows[r]), its proficiency held in the scratch `row`."""
    n_pr = proficiency.shape[1]
    zero = np.float32(0.0)
    i = rows[r]
    lo = indptr[i]
    deg = indptr[i + 1] - lo
    if deg == 0:
        return
    for k in range(n_pr):
        row[k] = proficiency[i, k]
    base = np.float32(transfer_rate * capacity[i])
    for c in range(u.shape[1]):
        x = u[r, c] * deg
        slot = min(int(x), deg - 1)
        e = lo + slot
        if x - slot >= alias_keep[e]:
            e = alias[e]
        j = indices[e]
        sender = packed[j, n_pr]
        if sender <= zero:  # abroad at the start of the month, or passes nothing on
            continue
        rate = base * weights[e] * sender
        if packed[j, n_pr + 1] < rank[i]:
            rate *= upward
        for k in range(n_pr):
            row[k] += rate * keep[k] * max(packed[j, k] - row[k], zero)
    for k in range(n_pr):
        proficiency[i, k] = row[k]


@nb.njit(cache=True, parallel=True)
def _close_gaps_parallel(proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                         alias, rank, capacity, keep, transfer_rate, upward):  # fmt: skip
    # receivers in blocks, each with its own scratch row; every receiver writes only its own
    # row and reads others from the snapshot, so any split gives the same result
    n_blocks = min(rows.size, 256)
    for block in nb.prange(n_blocks):
        row = np.empty(proficiency.shape[1], dtype=np.float32)
        for r in range(block * rows.size // n_blocks, (block + 1) * rows.size // n_blocks):
            _close_gaps_one(r, proficiency, packed, rows, u, indptr, indices, weights,
                            alias_keep, alias, rank, capacity, keep, transfer_rate, upward,
                            row)  # fmt: skip


@nb.njit(cache=True)
def _close_gaps_serial(proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                       alias, rank, capacity, keep, transfer_rate, upward):  # fmt: skip
    row = np.empty(proficiency.shape[1], dtype=np.float32)
    for r in range(rows.size):
        _close_gaps_one(r, proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                        alias, rank, capacity, keep, transfer_rate, upward, row)  # fmt: skip


#: Bits of the coverage array (`coverage`): the unit follows the practice (the person uses it
#: and carries it out), and the person also learns it on the job there.
FOLLOWS = 1
LEARNS = 2


def coverage(proficiency, home, rank, supervisor, dept, sop, teaches, theta, out):
    """Fill uint8 `out` (n, P) with the FOLLOWS and LEARNS bits: the unit of post i follows
    practice k when its holder is a champion of k (a manager at home with proficiency >= theta),
    when i's supervisor is one, or when k is standard procedure in i's department (`sop`
    (D, P)); i learns k on the job there unless the only source is a supervisor who passes
    nothing on (`teaches` False: a trained champion when the colleague channel is off). Rows
    are independent: numba's threads share them."""
    (_coverage_parallel if parallel() else _coverage_serial)(
        proficiency, home, rank, supervisor, dept, sop, teaches, theta, out
    )


@nb.njit(cache=True, inline="always")
def _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, teaches, theta, out):
    d = dept[i]
    both = np.uint8(FOLLOWS | LEARNS)
    me = home[i] and rank[i] > 0
    b = supervisor[i]
    boss = b >= 0 and home[b] and rank[b] > 0
    boss_bits = both if boss and teaches[b] else np.uint8(FOLLOWS)
    for k in range(proficiency.shape[1]):
        if sop[d, k] or (me and proficiency[i, k] >= theta):
            out[i, k] = both
        elif boss and proficiency[b, k] >= theta:
            out[i, k] = boss_bits
        else:
            out[i, k] = np.uint8(0)


@nb.njit(cache=True, parallel=True)
def _coverage_parallel(proficiency, home, rank, supervisor, dept, sop, teaches, theta, out):
    for i in nb.prange(proficiency.shape[0]):
        _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, teaches, theta, out)


@nb.njit(cache=True)
def _coverage_serial(proficiency, home, rank, supervisor, dept, sop, teaches, theta, out):
    for i in range(proficiency.shape[0]):
        _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, teaches, theta, out)


def coach_practise_forget(
    proficiency, packed, rows, indptr, indices, weights, rank, capacity, in_use, side_keep,
    coaching_rate, upward, practice_rate, theta, unused_rate, in_use_rate,
):  # fmt: skip
    """For each receiver in `rows` (staff at home), in place, in this order:

    1. coaching: from every tie j coaching this month (packed column P + 2 > 0), in each
       practice k the coach masters (s_jk >= theta): p_ik += coaching_rate * capacity_i
       * strength * coach factor_j * upward(j, i) * side_keep_k * max(s_jk - p_ik, 0), coach by
       coach; the coachee uses k this month, and so does a coach in what they master;
    2. practice: where i learns k on the job (`in_use` has the LEARNS bit): p_ik +=
       practice_rate * capacity_i * side_keep_k * (1 - p_ik); k is in use wherever the unit
       follows it (any bit);
    3. forgetting: p_ik *= 1 - (in_use_rate if k was in use this month else unused_rate).

    side_keep_k = 1 - abroad_tacitness_weight * tacitness_k (side-by-side learning). This is
    `transfer.coach_rate`, `transfer.coach_step`, `rules.learning_rate`, `rules.learn` and
    `rules.forgetting_share` written out inline; tests/test_transfer.py checks it against them."""
    (_coach_parallel if parallel() else _coach_serial)(
        proficiency, packed, rows, indptr, indices, weights, rank, capacity, in_use, side_keep,
        coaching_rate, upward, practice_rate, theta, unused_rate, in_use_rate,
    )  # fmt: skip


@nb.njit(cache=True, inline="always")
def _coach_one(r, proficiency, packed, rows, indptr, indices, weights, rank, capacity, in_use,
               side_keep, coaching_rate, upward, practice_rate, theta, unused_rate, in_use_rate,
               used):  # fmt: skip
    """One receiver of `coach_practise_forget` (rows[r]); `used` is its scratch row."""
    n_pr = proficiency.shape[1]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    i = rows[r]
    for k in range(n_pr):
        used[k] = in_use[i, k] != 0
    if packed[i, n_pr + 2] > zero:  # a coach uses what they master
        for k in range(n_pr):
            if packed[i, k] >= theta:
                used[k] = True
    base = np.float32(coaching_rate * capacity[i])
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        coach = packed[j, n_pr + 2]
        if coach <= zero:
            continue
        rate = base * weights[e] * coach
        if packed[j, n_pr + 1] < rank[i]:
            rate *= upward
        for k in range(n_pr):
            level = packed[j, k]
            if level < theta:
                continue
            used[k] = True
            gap = level - proficiency[i, k]
            if gap > zero:
                proficiency[i, k] += rate * side_keep[k] * gap
    practice = np.float32(practice_rate * capacity[i])
    for k in range(n_pr):
        value = proficiency[i, k]
        if in_use[i, k] & LEARNS:
            value += practice * side_keep[k] * (one - value)
        share = in_use_rate if used[k] else unused_rate
        proficiency[i, k] = value * (one - share)


@nb.njit(cache=True, parallel=True)
def _coach_parallel(proficiency, packed, rows, indptr, indices, weights, rank, capacity, in_use,
                    side_keep, coaching_rate, upward, practice_rate, theta, unused_rate,
                    in_use_rate):  # fmt: skip
    # receivers in blocks, each block with its own scratch row; every receiver writes only its
    # own row and reads others from the snapshot, so any split gives the same result
    n_blocks = min(rows.size, 256)
    for block in nb.prange(n_blocks):
        used = np.zeros(proficiency.shape[1], dtype=np.bool_)
        for r in range(block * rows.size // n_blocks, (block + 1) * rows.size // n_blocks):
            _coach_one(r, proficiency, packed, rows, indptr, indices, weights, rank, capacity,
                       in_use, side_keep, coaching_rate, upward, practice_rate, theta,
                       unused_rate, in_use_rate, used)  # fmt: skip


@nb.njit(cache=True)
def _coach_serial(proficiency, packed, rows, indptr, indices, weights, rank, capacity, in_use,
                  side_keep, coaching_rate, upward, practice_rate, theta, unused_rate,
                  in_use_rate):  # fmt: skip
    used = np.zeros(proficiency.shape[1], dtype=np.bool_)
    for r in range(rows.size):
        _coach_one(r, proficiency, packed, rows, indptr, indices, weights, rank, capacity,
                   in_use, side_keep, coaching_rate, upward, practice_rate, theta, unused_rate,
                   in_use_rate, used)  # fmt: skip


def department_sums(proficiency, dept_start, rank, home, in_use, theta):
    """One pass over staff, departments shared among numba's threads (a department's posts are
    rows dept_start[d]:dept_start[d + 1], summed in row order, so any split gives the same
    result): execution (D, P) summed over staff at home whose unit follows the practice
    (`rules.execution`: min(p / theta, 1)), authority (D, P) a champion with authority (division
    head or head, at home, proficient) is there, proficient (D, P) staff proficient, totals
    (D, P) proficiency summed over each department's staff."""
    n_pr = proficiency.shape[1]
    n_departments = dept_start.size - 1
    totals = np.zeros((n_departments, n_pr), dtype=np.float64)
    execution = np.zeros((n_departments, n_pr), dtype=np.float64)
    authority = np.zeros((n_departments, n_pr), dtype=np.bool_)
    proficient = np.zeros((n_departments, n_pr), dtype=np.int64)
    (_department_sums_parallel if parallel() else _department_sums_serial)(
        proficiency, dept_start, rank, home, in_use, theta, execution, authority, proficient,
        totals,
    )  # fmt: skip
    return execution, authority, proficient, totals


@nb.njit(cache=True, inline="always")
def _department_sum(d, proficiency, dept_start, rank, home, in_use, theta, execution, authority,
                    proficient, totals):  # fmt: skip
    for i in range(dept_start[d], dept_start[d + 1]):
        at_home = home[i]
        for k in range(proficiency.shape[1]):
            p = proficiency[i, k]
            totals[d, k] += p
            good = p >= theta
            if good:
                proficient[d, k] += 1
            if at_home:
                if in_use[i, k] & FOLLOWS:
                    execution[d, k] += min(p / theta, 1.0)
                if good and rank[i] >= 2:
                    authority[d, k] = True


@nb.njit(cache=True, parallel=True)
def _department_sums_parallel(proficiency, dept_start, rank, home, in_use, theta, execution,
                              authority, proficient, totals):  # fmt: skip
    for d in nb.prange(dept_start.size - 1):
        _department_sum(d, proficiency, dept_start, rank, home, in_use, theta, execution,
                        authority, proficient, totals)  # fmt: skip


@nb.njit(cache=True)
def _department_sums_serial(proficiency, dept_start, rank, home, in_use, theta, execution,
                            authority, proficient, totals):  # fmt: skip
    for d in range(dept_start.size - 1):
        _department_sum(d, proficiency, dept_start, rank, home, in_use, theta, execution,
                        authority, proficient, totals)  # fmt: skip


@nb.njit(cache=True)
def _unit(raw, i):
    """Python's random.random() from two raw MT19937 outputs (53-bit resolution)."""
    a = raw[i] >> np.uint64(5)
    b = raw[i + 1] >> np.uint64(6)
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def watts_strogatz_edges(n, k, p, raw):
    """The edges of networkx's `watts_strogatz_graph(n, k, p, seed)` (n > k + 1), drawn from
    `raw`, the raw MT19937 outputs of Python's `random.Random(seed)`: the same lattice, the same
    rewiring loop and the same draws (`random()`, `choice()` by rejection on `getrandbits`), so
    the same graph, without building a networkx graph. Returns (edges (m, 2), raw outputs used),
    or (empty, -1) when `raw` was too short."""
    half = k // 2
    edges = set()
    degree = np.full(n, 2 * half, dtype=np.int64)
    for j in range(1, half + 1):
        for u in range(n):
            v = (u + j) % n
            edges.add(min(u, v) * n + max(u, v))
    bits = 0
    while (1 << bits) <= n:
        bits += 1
    shift = np.uint64(32 - bits)
    i = 0
    for j in range(1, half + 1):
        for u in range(n):
            v = (u + j) % n
            if i + 2 > raw.size:
                return np.empty((0, 2), dtype=np.int64), -1
            r = _unit(raw, i)
            i += 2
            if r >= p:
                continue
            w = n
            while w >= n:  # choice(nodes): getrandbits(bits) until below n
                if i >= raw.size:
                    return np.empty((0, 2), dtype=np.int64), -1
                w = np.int64(raw[i] >> shift)
                i += 1
            rewire = True
            while w == u or (min(u, w) * n + max(u, w)) in edges:
                w = n
                while w >= n:
                    if i >= raw.size:
                        return np.empty((0, 2), dtype=np.int64), -1
                    w = np.int64(raw[i] >> shift)
                    i += 1
                if degree[u] >= n - 1:
                    rewire = False
                    break
            if rewire:
                edges.remove(min(u, v) * n + max(u, v))
                degree[v] -= 1
                edges.add(min(u, w) * n + max(u, w))
                degree[w] += 1
    out = np.empty((len(edges), 2), dtype=np.int64)
    for m, key in enumerate(edges):
        out[m, 0] = key // n
        out[m, 1] = key % n
    return out, i


@nb.njit(cache=True)
def csr_from_edges(n, source, target, weight):
    """Undirected CSR (indptr, indices, weights) over n posts from an edge list: both
    directions, self-ties dropped, each row's neighbours in ascending order, and a pair listed
    more than once keeping its strongest tie (`network.ties_from_edges`)."""
    m = source.size
    degree = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        if source[e] != target[e]:
            degree[source[e] + 1] += 1
            degree[target[e] + 1] += 1
    start = np.cumsum(degree)
    fill = start[:-1].copy()
    cols = np.empty(start[-1], dtype=np.int64)
    ws = np.empty(start[-1], dtype=np.float64)
    for e in range(m):
        a, b = source[e], target[e]
        if a == b:
            continue
        cols[fill[a]], ws[fill[a]] = b, weight[e]
        fill[a] += 1
        cols[fill[b]], ws[fill[b]] = a, weight[e]
        fill[b] += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    out_cols = np.empty(start[-1], dtype=np.int32)
    out_ws = np.empty(start[-1], dtype=np.float32)
    kept = 0
    for i in range(n):
        lo, hi = start[i], start[i + 1]
        for p in range(lo + 1, hi):  # insertion sort by column, then strongest first
            c, w = cols[p], ws[p]
            q = p - 1
            while q >= lo and (cols[q] > c or (cols[q] == c and ws[q] < w)):
                cols[q + 1], ws[q + 1] = cols[q], ws[q]
                q -= 1
            cols[q + 1], ws[q + 1] = c, w
        for p in range(lo, hi):
            if p == lo or cols[p] != cols[p - 1]:
                out_cols[kept] = cols[p]
                out_ws[kept] = ws[p]
                kept += 1
        indptr[i + 1] = kept
    return indptr, out_cols[:kept].copy(), out_ws[:kept].copy()
