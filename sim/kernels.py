"""Compiled (numba) loops for the hot paths of the vectorised engine.

Each kernel is one pass over the staff arrays, doing only the necessary memory traffic: contact
sampling from the CSR ties fused with casual peer learning by the gap rule, learning on the job
and forgetting; coaching, over the coaches' ties only; and the per-department sums that
institutions and reporters need. Random numbers are drawn by numpy in batches before the call,
so kernels are deterministic functions of their inputs. The formulas are
those of `sim.transfer` (gap rule, coaching) and `sim.rules` (learning, forgetting), written out
inline because numba cannot call numpy-generic helpers; tests/test_transfer.py checks the
kernels against them.
Compiled code is cached on disk (`cache=True`), so only the first run on a machine compiles.
"""

from __future__ import annotations

import os
import time

# GNU OpenMP's idle threads spin before they sleep (300,000 turns by default). When other
# processes hold the cores, the spinning thread takes the core that the thread it waits for
# needs: a full-scale run beside two busy processes took 3.6 s on two threads against 2.3 s on
# one, and twice the CPU time. Sleeping at once costs a wake-up of a few microseconds per kernel
# on a quiet machine. libgomp reads the policy when numba loads it, at the first parallel
# kernel, so it is set here, before that, unless the user has chosen one.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba as nb  # noqa: E402 (after the wait policy: see above)
import numpy as np  # noqa: E402

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


#: Seconds between two looks at how busy the machine is (a look reads /proc/loadavg, ~10 us).
BUSY_RECHECK_S = 0.1
#: Where Linux counts the threads that are running or waiting for a core, right now.
LOADAVG = "/proc/loadavg"
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_busy = {"next_look": 0.0, "busy": False}


def machine_busy() -> bool:
    """Whether other threads want every core this process may use, right now: the runnable
    threads Linux counts (/proc/loadavg, the calling one included) outnumber the cores. Looked
    at most every BUSY_RECHECK_S seconds; False where the file does not exist."""
    now = time.monotonic()
    if now >= _busy["next_look"]:
        _busy["next_look"] = now + BUSY_RECHECK_S
        try:
            with open(LOADAVG, encoding="ascii") as fh:
                runnable = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            runnable = 0
        _busy["busy"] = runnable - 1 >= (_CORES or 1)
    return _busy["busy"]


def launch(parallel_kernel, serial_kernel, *args):
    """Run a kernel: its parallel version on numba's threads; on one of them while other
    processes keep every core busy (two threads then mostly wait for each other: each kernel
    ends only when the thread the scheduler put aside has had its turn); the serial twin in a
    forked child (`parallel`). Every version gives the same result (tests/test_model_api.py)."""
    if not parallel():
        return serial_kernel(*args)
    threads = nb.get_num_threads()
    if threads == 1 or not machine_busy():
        return parallel_kernel(*args)
    nb.set_num_threads(1)
    try:
        return parallel_kernel(*args)
    finally:
        nb.set_num_threads(threads)


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
    on, -1 if abroad; their rank (column P + 1); and the person as a coach (column P + 2): 1 if
    at home, passing knowledge on and in their sharing months (`coaching`), else 0. The float32
    mean of each proficiency row goes into `means`. A contact's row is then one
    memory read in the transfer kernels. Rows are independent: numba's threads share them."""
    launch(
        _snapshot_parallel,
        _snapshot_serial,
        values,
        willingness,
        home,
        rank,
        shares,
        coaching,
        packed,
        means,
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
        packed[i, k + 2] = np.float32(1.0) if coaching[i] else np.float32(0.0)
    packed[i, k + 1] = rank[i]


@nb.njit(cache=True, parallel=True)
def _snapshot_parallel(values, willingness, home, rank, shares, coaching, packed, means):
    for i in nb.prange(values.shape[0]):
        _snapshot_row(i, values, willingness, home, rank, shares, coaching, packed, means)


@nb.njit(cache=True)
def _snapshot_serial(values, willingness, home, rank, shares, coaching, packed, means):
    for i in range(values.shape[0]):
        _snapshot_row(i, values, willingness, home, rank, shares, coaching, packed, means)


def close_gaps_practise_forget(
    proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias, rank, capacity,
    keep, transfer_rate, upward, supervisor, dept, sop, side_keep, practice_rate, theta,
    unused_rate, in_use_rate, used,
):  # fmt: skip
    """The default month at home after coaching, for each receiver in `rows`, in place, in one
    pass: the gap rule, then learning on the job and forgetting as `practise_forget` does.

    Gap rule: the receiver draws its m contacts (m = u.shape[1]) from its ties as
    `sample_contacts` does and reads them from the packed snapshot (`snapshot_packed`);
    contact by contact, in the order drawn:

    p_ik += transfer_rate * capacity_i * strength * willingness_j * upward(j, i)
            * (1 - tacitness_k) * max(s_jk - p_ik, 0)

    so each contact closes its share of what is left of the gap and more contacts mean more
    exposure. Arithmetic in float32, like the state. This is `transfer.gap_rate` and
    `transfer.gap_step` written out inline."""
    launch(
        _close_gaps_parallel, _close_gaps_serial,
        proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias, rank, capacity,
        keep, transfer_rate, upward, supervisor, dept, sop, side_keep, practice_rate, theta,
        unused_rate, in_use_rate, used,
    )  # fmt: skip


@nb.njit(cache=True, inline="always")
def _close_gaps_one(r, proficiency, packed, rows, u, indptr, indices, weights, alias_keep, alias,
                    rank, capacity, keep, transfer_rate, upward, row):  # fmt: skip
    """The gap rule for one receiver (rows[r]), on its proficiency held in the scratch `row`."""
    n_pr = proficiency.shape[1]
    zero = np.float32(0.0)
    i = rows[r]
    lo = indptr[i]
    deg = indptr[i + 1] - lo
    if deg == 0:
        return
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


@nb.njit(cache=True, inline="always")
def _practise_row(i, row, packed, rank, capacity, supervisor, dept, sop, side_keep,
                  practice_rate, theta, unused_rate, in_use_rate, used):  # fmt: skip
    """Learning on the job and forgetting for receiver i (at home), on its proficiency held in
    the scratch `row`; who follows what (`coverage`) read from the packed snapshot. Written
    without branches in the loop over practices (about a third faster)."""
    n_pr = row.size
    one = np.float32(1.0)
    d = dept[i]
    me = rank[i] > 0
    b = supervisor[i]
    boss = b >= 0 and packed[b, n_pr] > np.float32(-0.5) and rank[b] > 0  # at home, a manager
    bb = b if boss else i  # a row to read when there is no boss (its values are then ignored)
    practice = np.float32(practice_rate * capacity[i])
    change = in_use_rate - unused_rate
    for k in range(n_pr):
        learns = sop[d, k] | (me & (packed[i, k] >= theta))
        follows = learns | (boss & (packed[bb, k] >= theta)) | used[i, k]
        value = row[k]
        value += practice * side_keep[k] * (one - value) * np.float32(learns)
        row[k] = value * (one - (unused_rate + change * np.float32(follows)))


@nb.njit(cache=True, inline="always")
def _close_gaps_block(block, n_blocks, proficiency, packed, rows, u, indptr, indices, weights,
                      alias_keep, alias, rank, capacity, keep, transfer_rate, upward, supervisor,
                      dept, sop, side_keep, practice_rate, theta, unused_rate, in_use_rate,
                      used):  # fmt: skip
    row = np.empty(proficiency.shape[1], dtype=np.float32)
    for r in range(block * rows.size // n_blocks, (block + 1) * rows.size // n_blocks):
        i = rows[r]
        for k in range(row.size):
            row[k] = proficiency[i, k]
        _close_gaps_one(r, proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                        alias, rank, capacity, keep, transfer_rate, upward, row)  # fmt: skip
        _practise_row(i, row, packed, rank, capacity, supervisor, dept, sop, side_keep,
                      practice_rate, theta, unused_rate, in_use_rate, used)  # fmt: skip
        for k in range(row.size):
            proficiency[i, k] = row[k]


@nb.njit(cache=True, parallel=True)
def _close_gaps_parallel(proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                         alias, rank, capacity, keep, transfer_rate, upward, supervisor, dept,
                         sop, side_keep, practice_rate, theta, unused_rate, in_use_rate,
                         used):  # fmt: skip
    # receivers in blocks, each with its own scratch row; every receiver writes only its own
    # row and reads others from the snapshot, so any split gives the same result
    n_blocks = min(rows.size, 256)
    for block in nb.prange(n_blocks):
        _close_gaps_block(block, n_blocks, proficiency, packed, rows, u, indptr, indices,
                          weights, alias_keep, alias, rank, capacity, keep, transfer_rate,
                          upward, supervisor, dept, sop, side_keep, practice_rate, theta,
                          unused_rate, in_use_rate, used)  # fmt: skip


@nb.njit(cache=True)
def _close_gaps_serial(proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                       alias, rank, capacity, keep, transfer_rate, upward, supervisor, dept, sop,
                       side_keep, practice_rate, theta, unused_rate, in_use_rate,
                       used):  # fmt: skip
    _close_gaps_block(0, 1, proficiency, packed, rows, u, indptr, indices, weights, alias_keep,
                      alias, rank, capacity, keep, transfer_rate, upward, supervisor, dept, sop,
                      side_keep, practice_rate, theta, unused_rate, in_use_rate,
                      used)  # fmt: skip


#: Bits of the coverage array (`coverage`): the unit follows the practice (the person uses it
#: and carries it out), and the person also learns it on the job there.
FOLLOWS = 1
LEARNS = 2


def coverage(proficiency, home, rank, supervisor, dept, sop, theta, out):
    """Fill uint8 `out` (n, P) with the FOLLOWS and LEARNS bits: post i follows practice k when
    its holder is a champion of k (a manager at home with proficiency >= theta) or its
    supervisor is one, or when k is standard procedure in i's department (`sop` (D, P)); the
    holder learns k on the job where it is standard procedure, and a champion in what they
    champion. Rows are independent: numba's threads share them. (The staff month's kernels
    work this out inline from the snapshot; the reference engine and the tests use this.)"""
    launch(_coverage_parallel, _coverage_serial, proficiency, home, rank, supervisor, dept, sop,
           theta, out)  # fmt: skip


@nb.njit(cache=True, inline="always")
def _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, theta, out):
    d = dept[i]
    both = np.uint8(FOLLOWS | LEARNS)
    me = home[i] and rank[i] > 0
    b = supervisor[i]
    boss = b >= 0 and home[b] and rank[b] > 0
    for k in range(proficiency.shape[1]):
        if sop[d, k] or (me and proficiency[i, k] >= theta):
            out[i, k] = both
        elif boss and proficiency[b, k] >= theta:
            out[i, k] = np.uint8(FOLLOWS)
        else:
            out[i, k] = np.uint8(0)


@nb.njit(cache=True, parallel=True)
def _coverage_parallel(proficiency, home, rank, supervisor, dept, sop, theta, out):
    for i in nb.prange(proficiency.shape[0]):
        _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, theta, out)


@nb.njit(cache=True)
def _coverage_serial(proficiency, home, rank, supervisor, dept, sop, theta, out):
    for i in range(proficiency.shape[0]):
        _coverage_row(i, proficiency, home, rank, supervisor, dept, sop, theta, out)


def coach(
    proficiency, packed, coaches, home, indptr, indices, weights, rank, capacity, side_keep,
    coaching_rate, upward, theta, used,
):  # fmt: skip
    """Coaching, in place: every coach j of `coaches` (ascending; their packed column P + 2 is
    1) teaches each tie i at `home`, in each practice k the coach masters (s_jk >= theta):
    p_ik += coaching_rate * capacity_i * strength * upward(j, i) * side_keep_k
    * max(s_jk - p_ik, 0), coach by coach; the coachee uses k this
    month, and so does the coach (bool `used` (n, P) is set). side_keep_k = 1 -
    abroad_tacitness_weight * tacitness_k (side-by-side learning). Runs coach by coach over the
    coaches' ties, serially: coaches are few, ties symmetric and each row's neighbours
    ascending, so every coachee meets its coaches in ascending order, as a pass over its own
    ties would. This is `transfer.coach_rate` and `transfer.coach_step` written out inline."""
    _coach(proficiency, packed, coaches, home, indptr, indices, weights, rank, capacity,
           side_keep, coaching_rate, upward, theta, used)  # fmt: skip


def practise_forget(
    proficiency, packed, rows, rank, capacity, supervisor, dept, sop, side_keep, practice_rate,
    theta, unused_rate, in_use_rate, used,
):  # fmt: skip
    """Learning on the job and forgetting for each receiver i in `rows` (staff at home), in
    place. Who follows what is read from the packed snapshot as `coverage` has it: i follows k
    where they or their supervisor (a manager at home) master it or it is standard procedure
    (`sop` (D, P)), and learns it on the job where it is standard procedure or they champion it:
    p_ik += practice_rate * capacity_i * side_keep_k * (1 - p_ik). Then p_ik *= 1 -
    (in_use_rate where k was in use: followed, or coached (`used`), else unused_rate). This is
    `rules.learning_rate`, `rules.learn` and `rules.forgetting_share` written out inline."""
    launch(
        _practise_parallel, _practise_serial,
        proficiency, packed, rows, rank, capacity, supervisor, dept, sop, side_keep,
        practice_rate, theta, unused_rate, in_use_rate, used,
    )  # fmt: skip


@nb.njit(cache=True)
def _coach(proficiency, packed, coaches, home, indptr, indices, weights, rank, capacity,
           side_keep, coaching_rate, upward, theta, used):  # fmt: skip
    n_pr = proficiency.shape[1]
    zero = np.float32(0.0)
    for c in range(coaches.size):
        j = coaches[c]
        coach = packed[j, n_pr + 2]
        for k in range(n_pr):
            if packed[j, k] >= theta:
                used[j, k] = True
        for e in range(indptr[j], indptr[j + 1]):
            i = indices[e]
            if not home[i]:
                continue
            rate = np.float32(coaching_rate * capacity[i]) * weights[e] * coach
            if packed[j, n_pr + 1] < rank[i]:
                rate *= upward
            for k in range(n_pr):
                level = packed[j, k]
                if level < theta:
                    continue
                used[i, k] = True
                gap = level - proficiency[i, k]
                if gap > zero:
                    proficiency[i, k] += rate * side_keep[k] * gap


@nb.njit(cache=True, inline="always")
def _practise_one(r, proficiency, packed, rows, rank, capacity, supervisor, dept, sop, side_keep,
                  practice_rate, theta, unused_rate, in_use_rate, used, row):  # fmt: skip
    i = rows[r]
    for k in range(row.size):
        row[k] = proficiency[i, k]
    _practise_row(i, row, packed, rank, capacity, supervisor, dept, sop, side_keep,
                  practice_rate, theta, unused_rate, in_use_rate, used)  # fmt: skip
    for k in range(row.size):
        proficiency[i, k] = row[k]


@nb.njit(cache=True, parallel=True)
def _practise_parallel(proficiency, packed, rows, rank, capacity, supervisor, dept, sop,
                       side_keep, practice_rate, theta, unused_rate, in_use_rate,
                       used):  # fmt: skip
    n_blocks = min(rows.size, 256)
    for block in nb.prange(n_blocks):
        row = np.empty(proficiency.shape[1], dtype=np.float32)
        for r in range(block * rows.size // n_blocks, (block + 1) * rows.size // n_blocks):
            _practise_one(r, proficiency, packed, rows, rank, capacity, supervisor, dept, sop,
                          side_keep, practice_rate, theta, unused_rate, in_use_rate, used,
                          row)  # fmt: skip


@nb.njit(cache=True)
def _practise_serial(proficiency, packed, rows, rank, capacity, supervisor, dept, sop, side_keep,
                     practice_rate, theta, unused_rate, in_use_rate, used):  # fmt: skip
    row = np.empty(proficiency.shape[1], dtype=np.float32)
    for r in range(rows.size):
        _practise_one(r, proficiency, packed, rows, rank, capacity, supervisor, dept, sop,
                      side_keep, practice_rate, theta, unused_rate, in_use_rate, used,
                      row)  # fmt: skip


def department_sums(
    proficiency, dept_start, rank, supervisor, slot, n_slots, reports, home, sop, trained, theta
):  # fmt: skip
    """One pass over staff, departments shared among numba's threads (a department's posts are
    rows dept_start[d]:dept_start[d + 1] and report within it, summed in row order, so any split
    gives the same result). A person carries practice k out when at home, proficient (p_ik >=
    theta) and following it: they or their supervisor champion it (a champion: a manager at
    home, proficient), or it is standard procedure (`sop` (D, P)), as `coverage` has it.
    Returns:

    - execution (D, P): staff carrying k out;
    - pilot (D, P): over the champions with authority (division heads and heads at home,
      proficient; `slot` (n,) numbers them 0..n_slots-1, -1 for other posts), the highest share
      of their unit (themselves and the `reports` (n,) who report to them, who follow what their
      champion does) that is proficient: (1 + proficient reports at home) / (1 + reports_j); 0
      without such a champion;
    - led (D, P): a champion is there;
    - proficient (D, P): staff proficient; totals (D, P): proficiency summed over its staff;
    - people (D, 3): staff trained by the program (`trained` (n,)), of them proficient in some
      practice, and staff never trained but proficient in some practice."""
    n_pr = proficiency.shape[1]
    n_departments = dept_start.size - 1
    totals = np.zeros((n_departments, n_pr), dtype=np.float64)
    execution = np.zeros((n_departments, n_pr), dtype=np.float64)
    pilot = np.zeros((n_departments, n_pr), dtype=np.float64)
    led = np.zeros((n_departments, n_pr), dtype=np.bool_)
    proficient = np.zeros((n_departments, n_pr), dtype=np.int64)
    people = np.zeros((n_departments, 3), dtype=np.int64)
    unit = np.zeros((max(n_slots, 1), n_pr), dtype=np.int32)  # proficient reports at home
    launch(
        _department_sums_parallel, _department_sums_serial,
        proficiency, dept_start, rank, supervisor, slot, reports, home, sop, trained, theta,
        execution, pilot, led, proficient, totals, people, unit,
    )  # fmt: skip
    return execution, pilot, led, proficient, totals, people


@nb.njit(cache=True, inline="always")
def _department_sum(d, proficiency, dept_start, rank, supervisor, slot, reports, home, sop,
                    trained, theta, execution, pilot, led, proficient, totals, people,
                    unit):  # fmt: skip
    n_pr = proficiency.shape[1]
    lo, hi = dept_start[d], dept_start[d + 1]
    for i in range(lo, hi):
        at_home = home[i]
        b = supervisor[i]
        if b < lo or b >= hi:  # the head, or a roster's supervisor in another department
            b = -1
        boss = b >= 0 and home[b] and rank[b] > 0
        me = at_home and rank[i] > 0
        any_good = False
        for k in range(n_pr):
            p = proficiency[i, k]
            totals[d, k] += p
            if p < theta:
                continue
            any_good = True
            proficient[d, k] += 1
            if not at_home:
                continue
            if me:
                led[d, k] = True
            if me or sop[d, k] or (boss and proficiency[b, k] >= theta):
                execution[d, k] += 1.0
            if b >= 0 and slot[b] >= 0:
                unit[slot[b], k] += 1
        if trained[i]:
            people[d, 0] += 1
            if any_good:
                people[d, 1] += 1
        elif any_good:
            people[d, 2] += 1
    for j in range(lo, hi):
        if slot[j] < 0 or not home[j]:
            continue
        for k in range(n_pr):
            if proficiency[j, k] >= theta:
                share = (1.0 + unit[slot[j], k]) / (1.0 + reports[j])
                if share > pilot[d, k]:
                    pilot[d, k] = share


@nb.njit(cache=True, parallel=True)
def _department_sums_parallel(proficiency, dept_start, rank, supervisor, slot, reports, home,
                              sop, trained, theta, execution, pilot, led, proficient, totals,
                              people, unit):  # fmt: skip
    for d in nb.prange(dept_start.size - 1):
        _department_sum(d, proficiency, dept_start, rank, supervisor, slot, reports, home, sop,
                        trained, theta, execution, pilot, led, proficient, totals, people,
                        unit)  # fmt: skip


@nb.njit(cache=True)
def _department_sums_serial(proficiency, dept_start, rank, supervisor, slot, reports, home, sop,
                            trained, theta, execution, pilot, led, proficient, totals, people,
                            unit):  # fmt: skip
    for d in range(dept_start.size - 1):
        _department_sum(d, proficiency, dept_start, rank, supervisor, slot, reports, home, sop,
                        trained, theta, execution, pilot, led, proficient, totals, people,
                        unit)  # fmt: skip


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
