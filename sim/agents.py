"""Staff agents: municipal staff of Jakarta's provincial government.

A `StaffAgent` is the holder of one post (row `index` of the model's state arrays) and exposes
that row through properties. Its verb methods are the reference engine: `step()` runs one month
of the person's life one agent at a time. The default vectorised engine (`sim.engine`) applies
the same rules (`sim.rules`, and `sim.transfer` for peer transfer) to all rows at once and does
not call these methods.

Within a month every agent reads its colleagues from the start-of-month snapshot
(`model.snapshot`, `model.home_at_start`), so the order in which agents step does not matter.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim import rules, transfer
from sim.organisation import RANK_NAMES


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
        """View of this person's proficiency per practice, in [0, 1]."""
        return self.model.state.proficiency[self.index]

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
    def step(self) -> None:
        i, m = self.index, self.model
        capacity = float(
            rules.effective_capacity(
                m.state.base_capacity[i], m.snapshot[i].mean(), m.config.behavior.absorptive_gain
            )
        )
        m.state.tenure[i] += 1
        if m.state.abroad[i]:
            self.learn_abroad(capacity)
            self.count_down_exchange()
            return
        self.train_with_expert(capacity)
        self.learn_from_peers(capacity)
        self.forget()
        self.leave_or_stay()

    def learn_abroad(self, capacity: float) -> None:
        m, i = self.model, self.index
        b = m.config.behavior
        rate = rules.learning_rate(
            b.abroad_learning_rate, capacity, m.tacitness, b.abroad_tacitness_weight
        )
        taught = m.taught[m.state.placement[i]]
        p = m.state.proficiency[i]
        p[:] = np.where(taught, rules.learn(p, rate), p)

    def count_down_exchange(self) -> None:
        s = self.model.state
        s.months_left[self.index] -= 1
        if s.months_left[self.index] == 0:
            s.abroad[self.index] = False

    def train_with_expert(self, capacity: float) -> None:
        m, i = self.model, self.index
        s = m.state
        if s.expert_months_left[i] == 0:
            return
        b = m.config.behavior
        rate = rules.learning_rate(
            b.expert_learning_rate, capacity, m.tacitness, b.abroad_tacitness_weight
        )
        taught = m.taught[s.expert_bureau[i]]
        p = s.proficiency[i]
        p[:] = np.where(taught, rules.learn(p, rate), p)
        s.expert_months_left[i] -= 1

    def meet_colleagues(self) -> tuple[np.ndarray, np.ndarray]:
        """This month's contacts (post indices) and tie strengths, drawn from the person's ties."""
        m, i = self.model, self.index
        k = m.config.behavior.contacts_per_month
        rng = m.streams["contacts"]
        if m.ties.well_mixed:
            j = rng.integers(0, m.n_staff - 1, size=k)
            return j + (j >= i), np.ones(k)
        nb, w = m.ties.neighbours(i)
        if nb.size == 0:
            return np.full(k, -1), np.zeros(k)
        pick = rng.choice(nb.size, size=k, p=w / w.sum())
        return nb[pick], w[pick]

    def learn_from_peers(self, capacity: float) -> None:
        mechanism = self.model.config.behavior.mechanism
        if mechanism == "threshold":
            self.observe_colleagues()
            return
        contacts, strength = self.meet_colleagues()
        if mechanism == "gap":
            self.close_gaps(contacts, strength, capacity)
        else:
            self.catch_practices(contacts, strength)

    def _sender_factor(self, j: int, strength: float) -> float:
        m = self.model
        rank = m.organisation.rank
        up = transfer.upward_factor(rank[j], rank[self.index], m.config.behavior.power_distance)
        return float(
            transfer.sender_factor(strength, m.state.willingness[j], up, m.home_at_start[j])
        )

    def close_gaps(self, contacts, strength, capacity: float) -> None:
        m, i = self.model, self.index
        b = m.config.behavior
        p = m.state.proficiency[i]
        explicitness = 1.0 - m.tacitness
        delta = np.zeros(p.shape)
        for j, w in zip(contacts, strength, strict=True):
            if j < 0 or not m.home_at_start[j]:
                continue
            rate = transfer.gap_rate(
                b.transfer_rate, capacity, self._sender_factor(j, w), explicitness
            )
            delta += transfer.gap_increment(p, m.snapshot[j], rate)
        p[:] = transfer.after_gaps(p, delta, b.contacts_per_month)

    def catch_practices(self, contacts, strength) -> None:
        m, i = self.model, self.index
        b = m.config.behavior
        theta = b.proficiency_threshold
        p = m.state.proficiency[i]
        susceptible = p < theta
        new = p.copy()
        rng = m.streams["transfer"]
        explicitness = 1.0 - m.tacitness
        for j, w in zip(contacts, strength, strict=True):
            if j < 0 or not m.home_at_start[j]:
                continue
            chance = transfer.contagion_chance(
                b.contagion_prob, self._sender_factor(j, w), explicitness
            )
            u = rng.random(p.size)
            new = transfer.catch(new, susceptible, m.snapshot[j], u, chance, theta)
        p[:] = new

    def observe_colleagues(self) -> None:
        """Threshold (complex) contagion: adopt once enough of one's ties are proficient."""
        m, i = self.model, self.index
        b = m.config.behavior
        theta = b.proficiency_threshold
        p = m.state.proficiency[i]
        if m.ties.well_mixed:
            count, level_sum = transfer.others_proficient(
                m.proficient_at_start_count, m.proficient_level_sum, m.snapshot[i], theta
            )
            share = transfer.proficient_share(count, max(m.home_at_start.sum() - 1, 1))
        else:
            nb, w = m.ties.neighbours(i)
            rank = m.organisation.rank
            up = transfer.upward_factor(rank[nb], rank[i], b.power_distance)
            w = w * up * m.home_at_start[nb]
            if w.sum() <= 0:
                return
            prof = m.snapshot[nb] >= theta
            count = w @ prof
            level_sum = w @ (m.snapshot[nb] * prof)
            share = transfer.proficient_share(count, w.sum())
        level = transfer.proficient_level(level_sum, count)
        chance = transfer.adoption_chance(b.contagion_prob, 1.0 - m.tacitness)
        u = m.streams["transfer"].random(p.size)
        p[:] = transfer.adopt(p, share, level, u, chance, theta, b.threshold_share)

    def forget(self) -> None:
        m, i = self.model, self.index
        b = m.config.behavior
        d = m.organisation.dept[i]
        share = rules.forgetting_share(
            b.forgetting_rate,
            b.use_protection,
            m.departments.implementation[d],
            m.departments.sop[d],
            b.sop_forgetting_factor,
        )
        m.state.proficiency[i] *= 1.0 - share

    def leave_or_stay(self) -> None:
        """Leave the service with the monthly exit probability; a new hire takes the post."""
        m = self.model
        if m.streams["turnover"].random() < m.monthly_exit:
            m.hire(np.array([self.index]))
