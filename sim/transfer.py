"""Peer transfer (docs/model.md §7.4): what staff at home learn from colleagues each month.

Casual transfer, by one of three mechanisms (`behavior.mechanism`):

- `gap`: the receiver closes part of the gap to each more proficient contact (gradual learning);
- `contagion`: a proficient contact passes a practice on with some chance (simple contagion);
- `threshold`: a person adopts once a large enough share of their ties is proficient (complex
  contagion, Centola & Macy 2007);

then, under every mechanism, deliberate sharing: for `sharing_months` after their program
training, the trained coach all their work ties in what they master (`coach_rate`,
`coach_step`), followed by learning on the job and use-dependent forgetting (§7.5).

The formulas come first, once, as small pure functions that work on scalars (the reference engine,
one agent at a time: `StaffAgent.learn_from_peers`) and on numpy arrays (the vectorised engine,
all receivers at once: the functions after them) alike, so that the two engines cannot drift
apart. The compiled kernels `kernels.close_gaps` and `kernels.coach_practise_forget` write the
formulas out inline for speed; tests/test_transfer.py checks that they equal them. Senders and
coaches are always read from the start-of-month snapshot (`take_snapshot`,
`sim.state.Snapshot`): proficiency s, presence at home h, whether they pass knowledge on, and
whether their unit follows each practice. Symbols are those of §7.4.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim.config import BehaviorConfig
from sim.network import Ties
from sim.state import DepartmentState, Snapshot, StaffState, Structure

# --- formulas (scalars or arrays) -----------------------------------------------------------


def upward_factor(sender_rank, receiver_rank, power_distance):
    """U_ij: knowledge flowing up the hierarchy (junior to senior) is damped by power distance."""
    return np.where(sender_rank < receiver_rank, 1.0 - power_distance, 1.0)


def sender_factor(strength, willingness, upward, home):
    """Phi_ij = w_ij v_j U_ij h_j: how much contact j can pass on to receiver i (0 when j was
    abroad at the start of the month)."""
    return strength * willingness * upward * home


def gap_rate(transfer_rate, capacity, sender, explicitness):
    """rho_g c_i Phi_ij (1 - tau_k): share of the gap to contact j that receiver i closes."""
    return transfer_rate * capacity * sender * explicitness


def gap_step(receiver, sender_level, rate):
    """Gap mechanism, one contact: the receiver closes `rate` of what is left of its gap to a
    more proficient sender (nothing else); applied contact by contact, in the order drawn."""
    return receiver + rate * np.maximum(sender_level - receiver, 0.0)


def coach_rate(coaching_rate, capacity, coach, side_keep):
    """rho_c c_i Psi_ij (1 - omega tau_k): share of the gap to coach j that coachee i closes in
    a month (Psi_ij = w_ij U_ij, the coach's factor, 0 when j is not coaching)."""
    return coaching_rate * capacity * coach * side_keep


def coach_step(receiver, coach_level, rate, threshold):
    """Coaching, one coach: in every practice the coach masters (level >= threshold), the
    coachee closes `rate` of what is left of its gap to the coach; applied coach by coach."""
    taught = coach_level >= threshold
    return np.where(taught, gap_step(receiver, coach_level, rate), receiver)


def contagion_chance(contagion_prob, sender, explicitness):
    """beta Phi_ij (1 - tau_k): chance that a proficient contact passes the practice on."""
    return contagion_prob * sender * explicitness


def catch(receiver, susceptible, sender_level, u, chance, threshold):
    """Simple contagion, one contact: where the receiver was susceptible (below `threshold`
    before the month's contacts), the contact proficient and the uniform draw `u` < `chance`,
    the receiver takes the contact's level."""
    hit = susceptible & (sender_level >= threshold) & (u < chance)
    return np.where(hit, np.maximum(receiver, sender_level), receiver)


def proficient_share(count, total):
    """sigma_ik: (weighted) share of the receiver's ties at home proficient in practice k."""
    return count / total


def proficient_level(level_sum, count):
    """l_ik: (weighted) mean proficiency of the proficient ties; 0 where none is proficient."""
    return np.where(count > 0, level_sum / np.maximum(count, 1e-30), 0.0)


def others_proficient(count, level_sum, own_level, threshold):
    """Well-mixed threshold rule: (count, level sum) of the proficient staff at home other than
    the receiver, from the totals over all staff at home and the receiver's own level."""
    own = own_level >= threshold
    return count - own, level_sum - np.where(own, own_level, 0.0)


def adoption_chance(contagion_prob, explicitness):
    """beta (1 - tau_k): monthly chance of adopting once the threshold is met."""
    return contagion_prob * explicitness


def adopt(receiver, share, level, u, chance, threshold, threshold_share, reachable=True):
    """Threshold rule: where the receiver is below `threshold`, has ties at home (`reachable`)
    and a share sigma >= `threshold_share` (and > 0) of them is proficient, it adopts with
    `chance` (uniform draw `u`), taking the level max(p, l)."""
    adopting = (share >= threshold_share) & (share > 0) & (receiver < threshold) & reachable
    adopting &= u < chance
    return np.where(adopting, np.maximum(receiver, level), receiver)


def upward_ties(ties: Ties, rank: np.ndarray, power_distance: float) -> sp.csr_array:
    """float64 (n, n): tie strengths w_ij U_ij, damped where knowledge would flow up the
    hierarchy (the threshold rule on a network; h_j enters by the products with it)."""
    owner = np.repeat(np.arange(ties.n), ties.degree)
    up = upward_factor(rank[ties.indices], rank[owner], power_distance)
    return sp.csr_array((ties.weights * up, ties.indices, ties.indptr), shape=(ties.n, ties.n))


# --- the month's snapshot and the vectorised engine: every receiver (`rows`) at once ------------


def take_snapshot(
    staff: StaffState,
    ties: Ties,
    rank: np.ndarray,
    behavior: BehaviorConfig,
    colleague_channel: bool = True,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Start-of-month proficiency (and its row means), presence at home, who passes knowledge on
    and who coaches, packed with each person's willingness and rank for the kernels (into the
    arrays of the `previous` snapshot, which the month before has finished with); for the
    threshold rule in a well-mixed organisation also the totals over all staff at home that it
    reads. Without the colleague channel, the trained pass nothing on."""
    n, n_pr = staff.proficiency.shape
    home = ~staff.abroad
    shares = np.ones(n, dtype=bool) if colleague_channel else ~staff.trained
    coaching = staff.sharing_left > 0
    width = (n_pr + 3 + 15) // 16 * 16
    if previous is not None and previous.packed.shape == (n, width):
        packed, mean = previous.packed, previous.mean_proficiency
    else:
        packed = np.zeros((n, width), dtype=np.float32)
        mean = np.empty(n, dtype=np.float32)
    kernels.snapshot_packed(
        staff.proficiency, staff.willingness, home, rank, shares, coaching, packed, mean
    )
    proficiency = packed[:, :n_pr]
    if behavior.mechanism == "threshold" and ties.well_mixed:
        count, level_sum = well_mixed_totals(
            proficiency, home & shares, behavior.proficiency_threshold
        )
        return Snapshot(proficiency, mean, home, packed, shares, count, level_sum)
    return Snapshot(proficiency, mean, home, packed, shares)


def well_mixed_totals(proficiency, home, threshold) -> tuple[np.ndarray, np.ndarray]:
    """int (P,) staff at home proficient in each practice and float32 (P,) the sum of their
    levels: what the well-mixed threshold rule reads (every other person is a tie)."""
    prof = proficiency >= threshold
    prof &= home[:, None]
    return prof.sum(axis=0), (proficiency * prof).sum(axis=0)


def _sender_factors(
    staff: StaffState, snapshot: Snapshot, rank, power_distance, rows, contacts, strength
) -> tuple[np.ndarray, np.ndarray]:
    """(safe contact indices, float32 Phi) with Phi 0 for missing (-1) or absent contacts and
    for contacts who pass nothing on."""
    valid = contacts >= 0
    j = np.where(valid, contacts, 0)
    valid &= snapshot.home[j] & snapshot.shares[j]
    up = upward_factor(rank[j], rank[rows][:, None], power_distance)
    return j, sender_factor(strength, staff.willingness[j], up, valid).astype(np.float32)


def close_gaps_practise_forget(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    capacity: np.ndarray,
    used: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Gap rule on a network, learning on the job and forgetting in one compiled pass that also
    samples the contacts (§7.3, `contacts` stream `rng`): the default and hot path."""
    b, ties, org = behavior, structure.ties, structure.organisation
    u = rng.random((rows.size, b.contacts_per_month))
    alias_keep, alias = ties.alias
    kernels.close_gaps_practise_forget(
        staff.proficiency,
        snapshot.packed,
        rows,
        u,
        ties.indptr,
        ties.indices,
        ties.weights,
        alias_keep,
        alias,
        org.rank,
        capacity,
        structure.explicitness_f32,
        float(b.transfer_rate),
        np.float32(1.0 - b.power_distance),
        *_practice_arguments(structure, departments, b),
        used,
    )


def _practice_arguments(structure: Structure, departments: DepartmentState, b: BehaviorConfig):
    """The arguments of learning on the job and forgetting that the kernels share."""
    org = structure.organisation
    return (
        org.supervisor,
        org.dept,
        departments.sop,
        structure.side_keep_f32,
        np.float32(b.practice_learning_rate),
        np.float32(b.proficiency_threshold),
        np.float32(b.forgetting_rate),
        np.float32(b.forgetting_in_use),
    )


def close_gaps(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    contacts: np.ndarray,
    strength: np.ndarray,
    capacity: np.ndarray,
) -> None:
    """Gap rule for given contacts (well-mixed organisations), contact by contact."""
    b, rank = behavior, structure.organisation.rank
    j, sender = _sender_factors(staff, snapshot, rank, b.power_distance, rows, contacts, strength)
    p, cap = staff.proficiency[rows], capacity[rows, None]
    for c in range(j.shape[1]):
        rate = gap_rate(b.transfer_rate, cap, sender[:, c, None], structure.explicitness_f32)
        p = gap_step(p, snapshot.proficiency[j[:, c]], rate)
    staff.proficiency[rows] = p


def coach(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    behavior: BehaviorConfig,
    capacity: np.ndarray,
) -> np.ndarray:
    """Coaching by the trained in their sharing months (§7.4), compiled; returns bool (n, P):
    the practices each person coached or was coached in this month (they are in use)."""
    b, ties = behavior, structure.ties
    used = np.zeros(staff.proficiency.shape, dtype=bool)
    coaches = np.flatnonzero(snapshot.coach > 0)
    if coaches.size:
        kernels.coach(
            staff.proficiency,
            snapshot.packed,
            coaches,
            snapshot.home,
            ties.indptr,
            ties.indices,
            ties.weights,
            structure.organisation.rank,
            capacity,
            structure.side_keep_f32,
            np.float32(b.coaching_rate),
            np.float32(1.0 - b.power_distance),
            np.float32(b.proficiency_threshold),
            used,
        )
    return used


def practise_forget(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    capacity: np.ndarray,
    used: np.ndarray,
) -> None:
    """Learning on the job and use-dependent forgetting (§7.5) of the staff at home `rows`,
    compiled (after casual transfer by the contagion or threshold rule, or in a well-mixed
    organisation; the default path fuses it with the gap rule)."""
    kernels.practise_forget(
        staff.proficiency,
        snapshot.packed,
        rows,
        structure.organisation.rank,
        capacity,
        *_practice_arguments(structure, departments, behavior),
        used,
    )


def catch_practices(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    contacts: np.ndarray,
    strength: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Simple contagion from each of the given contacts in turn (`transfer` stream `rng`)."""
    b, rank = behavior, structure.organisation.rank
    theta = b.proficiency_threshold
    j, sender = _sender_factors(staff, snapshot, rank, b.power_distance, rows, contacts, strength)
    p = staff.proficiency[rows]
    susceptible = p < theta
    new = p.copy()
    for c in range(j.shape[1]):
        chance = contagion_chance(b.contagion_prob, sender[:, c, None], structure.explicitness)
        u = rng.random(p.shape)
        new = catch(new, susceptible, snapshot.proficiency[j[:, c]], u, chance, theta)
    staff.proficiency[rows] = new


def observe_colleagues(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Threshold (complex) contagion over all of a person's ties at home (`transfer` stream)."""
    b, snap = behavior, snapshot.proficiency
    theta = b.proficiency_threshold
    if structure.ties.well_mixed:
        own = np.where(snapshot.shares[rows, None], snap[rows], 0.0)  # counted if they share
        count, level_sum = others_proficient(
            snapshot.proficient_count, snapshot.proficient_level_sum, own, theta
        )
        share = proficient_share(count, max(snapshot.home.sum() - 1, 1))
        reachable = np.ones(rows.size, dtype=bool)
    else:
        a = structure.upward_ties
        home = snapshot.home.astype(np.float64)
        prof = (snap >= theta) * (home * snapshot.shares)[:, None]
        total = (a @ home)[rows]
        count = (a @ prof)[rows]
        level_sum = (a @ (snap * prof))[rows]
        reachable = total > 0
        share = proficient_share(count, np.where(reachable, total, 1.0)[:, None])
    level = proficient_level(level_sum, count)
    p = staff.proficiency[rows]
    chance = adoption_chance(b.contagion_prob, structure.explicitness)
    u = rng.random(p.shape)
    staff.proficiency[rows] = adopt(
        p, share, level, u, chance, theta, b.threshold_share, reachable[:, None]
    )
