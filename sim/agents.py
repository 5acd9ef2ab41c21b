"""Staff agents: municipal staff of Jakarta's provincial government.

A `StaffAgent` is the holder of one post (row `index` of the model's staff state) and exposes
that row through properties. Its verb methods are the reference engine: `staff_month` has every
agent run `step(month)`, one month of the person's life, one agent at a time, on the parts of the
model's state handed to it in `Month`. The default vectorised engine (`sim.engine`) applies the
same rules (`sim.rules`, and `sim.transfer` for peer transfer) to all rows at once and does not
call these methods.

Within a month every agent reads its colleagues from the start-of-month snapshot
(`Month.snapshot`), so the order in which agents step does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim import engine, institutions, kernels, rules, transfer
from sim.config import BehaviorConfig
from sim.organisation import RANK_NAMES
from sim.state import DepartmentState, ProgramState, Snapshot, StaffState, Streams, Structure


@dataclass(frozen=True)
class Month:
    """What an agent reads and writes during the month: staff rows (its own), the start-of-month
    snapshot, the structure, departments, behaviour, random streams, and the program's totals
    (exits)."""

    staff: StaffState
    snapshot: Snapshot
    structure: Structure
    departments: DepartmentState
    behavior: BehaviorConfig
    streams: Streams
    ledger: ProgramState
    in_use: np.ndarray  # uint8 (n, P): who follows and learns what (`institutions.coverage`)


def staff_month(
    agents: mesa.agent.AgentSet,
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    streams: Streams,
    ledger: ProgramState,
) -> None:
    """The reference engine: every agent lives the month, one at a time."""
    in_use = institutions.coverage(
        snapshot.proficiency, snapshot.home, structure, departments.sop,
        behavior.proficiency_threshold,
    )  # fmt: skip
    month = Month(staff, snapshot, structure, departments, behavior, streams, ledger, in_use)
    agents.do("step", month)


class StaffAgent(mesa.Agent):
    """One staff member: department, rank, tenure, capacity, willingness, proficiencies."""

    def __init__(self, model, index: int) -> None:
        super().__init__(model)
        self.index = int(index)

    # --- state, read from the model's arrays -----------------------------------------------
    @property
    def department(self) -> str:
        return self.model.organisation.department_ids[self.model.organisation.dept[self.index]]

    @property
    def rank(self) -> str:
        return RANK_NAMES[self.model.organisation.rank[self.index]]

    @property
    def tenure(self) -> int:
        """Months in service."""
        return int(self.model.state.tenure[self.index])

    @property
    def proficiency(self) -> np.ndarray:
        """This person's proficiency per practice now, in [0, 1] (a copy, so that a
        DataCollector's agent reporter keeps each month's values)."""
        return self.model.state.proficiency[self.index].copy()

    @property
    def capacity(self) -> float:
        """Absorptive capacity now, in [0, 1]."""
        b = self.model.config.behavior
        s = self.model.state
        return float(
            rules.effective_capacity(
                s.base_capacity[self.index], s.proficiency[self.index].mean(), b.absorptive_gain
            )
        )

    @property
    def willingness(self) -> float:
        return float(self.model.state.willingness[self.index])

    @property
    def abroad(self) -> bool:
        return bool(self.model.state.abroad[self.index])

    @property
    def months_left(self) -> int:
        return int(self.model.state.months_left[self.index])

    @property
    def exchanges_done(self) -> int:
        return int(self.model.state.exchanges[self.index])

    # --- the month, one agent at a time (reference engine) ---------------------------------
    def step(self, month: Month) -> None:
        i, s = self.index, month.staff
        capacity = float(
            rules.effective_capacity(
                s.base_capacity[i],
                month.snapshot.proficiency[i].mean(),
                month.behavior.absorptive_gain,
            )
        )
        s.tenure[i] += 1
        if s.abroad[i]:
            self.learn_abroad(month, capacity)
            self.count_down_exchange(month)
            return
        self.count_down_sharing(month)
        self.train_with_expert(month, capacity)
        used = self.learn_from_coaches(month, capacity)
        self.learn_from_peers(month, capacity)
        self.practise(month, capacity)
        self.forget(month, used)
        self.leave_or_stay(month)

    def learn_abroad(self, month: Month, capacity: float) -> None:
        s, b, st = month.staff, month.behavior, month.structure
        rate = rules.learning_rate(
            b.abroad_learning_rate, capacity, st.tacitness, b.abroad_tacitness_weight
        )
        taught = st.taught[s.placement[self.index]]
        p = s.proficiency[self.index]
        p[:] = np.where(taught, rules.learn(p, rate), p)

    def count_down_exchange(self, month: Month) -> None:
        """One month fewer in Tokyo; home at the end of the last, perhaps to share."""
        s = month.staff
        s.months_left[self.index] -= 1
        if s.months_left[self.index] == 0:
            s.abroad[self.index] = False
            self.start_sharing(month)

    def start_sharing(self, month: Month) -> None:
        """Training done: share it for sharing_months with probability one's willingness."""
        engine.start_sharing(
            month.staff, month.behavior, np.array([self.index]), month.streams.sharing
        )

    def count_down_sharing(self, month: Month) -> None:
        """A month of sharing spent (the snapshot has this person coaching this month)."""
        s = month.staff
        if s.sharing_left[self.index] > 0:
            s.sharing_left[self.index] -= 1

    def train_with_expert(self, month: Month, capacity: float) -> None:
        i, s = self.index, month.staff
        if s.expert_months_left[i] == 0:
            return
        b, st = month.behavior, month.structure
        rate = rules.learning_rate(
            engine.expert_rate(b), capacity, st.tacitness, b.abroad_tacitness_weight
        )
        taught = st.taught[s.expert_bureau[i]]
        p = s.proficiency[i]
        p[:] = np.where(taught, rules.learn(p, rate), p)
        s.expert_months_left[i] -= 1
        if s.expert_months_left[i] == 0:
            self.start_sharing(month)

    def meet_colleagues(self, month: Month) -> tuple[np.ndarray, np.ndarray]:
        """This month's contacts (post indices) and tie strengths, drawn from the person's ties."""
        i, ties = self.index, month.structure.ties
        k = month.behavior.contacts_per_month
        rng = month.streams.contacts
        if ties.well_mixed:
            j = rng.integers(0, ties.n - 1, size=k)
            return j + (j >= i), np.ones(k)
        nb, w = ties.neighbours(i)
        if nb.size == 0:
            return np.full(k, -1), np.zeros(k)
        pick = rng.choice(nb.size, size=k, p=w / w.sum())
        return nb[pick], w[pick]

    def learn_from_peers(self, month: Month, capacity: float) -> None:
        mechanism = month.behavior.mechanism
        if mechanism == "threshold":
            self.observe_colleagues(month)
            return
        contacts, strength = self.meet_colleagues(month)
        if mechanism == "gap":
            self.close_gaps(month, contacts, strength, capacity)
        else:
            self.catch_practices(month, contacts, strength)

    def _sender_factor(self, month: Month, j: int, strength: float) -> float:
        rank, snap = month.structure.organisation.rank, month.snapshot
        up = transfer.upward_factor(rank[j], rank[self.index], month.behavior.power_distance)
        present = snap.home[j] and snap.shares[j]
        return float(transfer.sender_factor(strength, month.staff.willingness[j], up, present))

    def close_gaps(self, month: Month, contacts, strength, capacity: float) -> None:
        """Gap rule: each contact in turn closes its share of what is left of the gap."""
        b, snap = month.behavior, month.snapshot
        p = month.staff.proficiency[self.index]
        explicitness = month.structure.explicitness
        for j, w in zip(contacts, strength, strict=True):
            if j < 0 or not snap.home[j]:
                continue
            sender = self._sender_factor(month, j, w)
            rate = transfer.gap_rate(b.transfer_rate, capacity, sender, explicitness)
            p[:] = transfer.gap_step(p, snap.proficiency[j], rate)

    def learn_from_coaches(self, month: Month, capacity: float) -> np.ndarray:
        """Coaching (§7.4): every tie coaching this month teaches, coach by coach, what they
        master. Returns bool (P,): the practices this person uses this month (their unit follows
        them, they are coached in them, or they coach them)."""
        i, b, snap, st = self.index, month.behavior, month.snapshot, month.structure
        theta = b.proficiency_threshold
        used = month.in_use[i] != 0
        if snap.coach[i] > 0:
            used |= snap.proficiency[i] >= theta
        p = month.staff.proficiency[i]
        rank = st.organisation.rank
        nb, w = st.ties.neighbours(i)
        for j, strength in zip(nb, w, strict=True):
            if snap.coach[j] <= 0:
                continue
            up = transfer.upward_factor(rank[j], rank[i], b.power_distance)
            coach = strength * snap.coach[j] * up
            rate = transfer.coach_rate(b.coaching_rate, capacity, coach, st.side_keep_f32)
            p[:] = transfer.coach_step(p, snap.proficiency[j], rate, theta)
            used |= snap.proficiency[j] >= theta
        return used

    def practise(self, month: Month, capacity: float) -> None:
        """Learning on the job in the practices this person's unit follows (§7.5)."""
        b, st = month.behavior, month.structure
        rate = rules.learning_rate(
            b.practice_learning_rate, capacity, st.tacitness, b.abroad_tacitness_weight
        )
        p = month.staff.proficiency[self.index]
        learns = (month.in_use[self.index] & kernels.LEARNS) != 0
        p[:] = np.where(learns, rules.learn(p, rate), p)

    def catch_practices(self, month: Month, contacts, strength) -> None:
        b, snap = month.behavior, month.snapshot
        theta = b.proficiency_threshold
        p = month.staff.proficiency[self.index]
        susceptible = p < theta
        new = p.copy()
        rng = month.streams.transfer
        explicitness = month.structure.explicitness
        for j, w in zip(contacts, strength, strict=True):
            if j < 0 or not snap.home[j]:
                continue
            sender = self._sender_factor(month, j, w)
            chance = transfer.contagion_chance(b.contagion_prob, sender, explicitness)
            u = rng.random(p.size)
            new = transfer.catch(new, susceptible, snap.proficiency[j], u, chance, theta)
        p[:] = new

    def observe_colleagues(self, month: Month) -> None:
        """Threshold (complex) contagion: adopt once enough of one's ties are proficient."""
        i, b, snap, st = self.index, month.behavior, month.snapshot, month.structure
        theta = b.proficiency_threshold
        p = month.staff.proficiency[i]
        if st.ties.well_mixed:
            own = snap.proficiency[i] if snap.shares[i] else np.zeros_like(snap.proficiency[i])
            count, level_sum = transfer.others_proficient(
                snap.proficient_count, snap.proficient_level_sum, own, theta
            )
            share = transfer.proficient_share(count, max(snap.home.sum() - 1, 1))
        else:
            nb, w = st.ties.neighbours(i)
            rank = st.organisation.rank
            up = transfer.upward_factor(rank[nb], rank[i], b.power_distance)
            w = w * up * snap.home[nb]
            if w.sum() <= 0:
                return
            prof = (snap.proficiency[nb] >= theta) & snap.shares[nb][:, None]
            count = w @ prof
            level_sum = w @ (snap.proficiency[nb] * prof)
            share = transfer.proficient_share(count, w.sum())
        level = transfer.proficient_level(level_sum, count)
        chance = transfer.adoption_chance(b.contagion_prob, st.explicitness)
        u = month.streams.transfer.random(p.size)
        p[:] = transfer.adopt(p, share, level, u, chance, theta, b.threshold_share)

    def forget(self, month: Month, used: np.ndarray) -> None:
        """Use-dependent forgetting (§7.5): slow in the practices used this month."""
        b = month.behavior
        share = rules.forgetting_share(used, b.forgetting_rate, b.forgetting_in_use)
        month.staff.proficiency[self.index] *= 1.0 - share

    def leave_or_stay(self, month: Month) -> None:
        """Leave the service with the monthly exit probability; a new hire takes the post."""
        rng = month.streams.turnover
        if rng.random() < month.structure.monthly_exit:
            month.ledger.totals["exits"] += engine.hire(
                month.staff,
                month.structure,
                month.departments,
                month.behavior,
                np.array([self.index]),
                rng,
            )
