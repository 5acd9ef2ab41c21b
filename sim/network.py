"""Work ties between staff posts, built with networkx and stored as CSR arrays.

Inside each department a Watts-Strogatz graph over the team-ordered posts (ring lattice of degree
`team_neighbours`, rewired with probability `rewiring`) gives dense, clustered team ties; each
post is tied to its supervisor; managers get sparse ties to managers of other departments, more
often to related departments and to the same domain. Ties are undirected; a tie's strength is in
(0, 1]. The well-mixed variant has no ties (contacts are drawn uniformly from all staff).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim.config import NetworkConfig
from sim.organisation import STAFF, Organisation


@dataclass(frozen=True)
class Ties:
    """Undirected weighted ties in CSR form over n posts; `well_mixed` means no explicit ties."""

    indptr: np.ndarray  # int64 (n+1,)
    indices: np.ndarray  # int32 (nnz,)
    weights: np.ndarray  # float32 (nnz,)
    well_mixed: bool = False

    @cached_property
    def alias(self) -> tuple[np.ndarray, np.ndarray]:
        """Alias tables per row (keep probability, alias edge) for O(1) contact sampling."""
        return kernels.alias_tables(self.indptr, self.weights)

    @property
    def n(self) -> int:
        return self.indptr.size - 1

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def matrix(self) -> sp.csr_array:
        return sp.csr_array((self.weights, self.indices, self.indptr), shape=(self.n, self.n))

    def neighbours(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.weights[lo:hi]

    def to_networkx(self) -> nx.Graph:
        return nx.from_scipy_sparse_array(self.matrix())


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _team_edges(n: int, k: int, rewiring: float, rng: np.random.Generator) -> np.ndarray:
    """Edges (m, 2) of one department's small-world team graph over local posts 0..n-1: the graph
    of networkx's `watts_strogatz_graph(n, k, rewiring, seed)` (complete when n <= k + 1), built
    by a compiled loop on the same random draws (`python_random_stream`)."""
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    if n <= k + 1:
        return np.array(nx.complete_graph(n).edges(), dtype=np.int64).reshape(-1, 2)
    seed, size = _seed(rng), n * k + n * k // 2 + 64
    while True:
        edges, used = kernels.watts_strogatz_edges(n, k, rewiring, python_random_stream(seed, size))
        if used >= 0:
            return edges
        size *= 2


def python_random_stream(seed: int, size: int) -> np.ndarray:
    """The first `size` raw 32-bit outputs of Python's `random.Random(seed)` (MT19937), as uint64:
    numpy's MT19937 started from the state Python's seeding gives."""
    state = random.Random(seed).getstate()[1]
    bits = np.random.MT19937(0)
    key = np.array(state[:624], dtype=np.uint32)
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": state[624]}}
    return bits.random_raw(size)


def department_affinity(org: Organisation, cfg: NetworkConfig) -> np.ndarray:
    """float (D, D): relative chance that a cross tie from department a goes to department b."""
    dom = org.domain_of_department
    aff = np.where(dom[:, None] == dom[None, :], cfg.same_domain_affinity, cfg.other_affinity)
    for a, rel in enumerate(org.related):
        for b in rel:
            aff[a, b] = aff[b, a] = cfg.related_affinity
    np.fill_diagonal(aff, 0.0)
    return aff


def _cross_edges(org: Organisation, cfg: NetworkConfig, rng: np.random.Generator) -> np.ndarray:
    managers = np.flatnonzero(org.rank > STAFF)
    if cfg.cross_ties_per_manager <= 0 or managers.size == 0 or org.n_departments < 2:
        return np.empty((0, 2), dtype=np.int64)
    aff = department_affinity(org, cfg)
    by_dept = [managers[org.dept[managers] == d] for d in range(org.n_departments)]
    # whole part plus a Bernoulli draw for the fraction: mean ties per manager is exact
    whole = int(cfg.cross_ties_per_manager)
    frac = cfg.cross_ties_per_manager - whole
    counts = whole + (rng.random(managers.size) < frac)
    sources = np.repeat(managers, counts)
    src_dept = org.dept[sources]
    targets = np.full(sources.size, -1, dtype=np.int64)
    for d in range(org.n_departments):
        mine = np.flatnonzero(src_dept == d)
        row = aff[d] * np.array([len(m) > 0 for m in by_dept])
        if mine.size == 0 or row.sum() <= 0:
            continue
        to_dept = rng.choice(org.n_departments, size=mine.size, p=row / row.sum())
        for e in np.unique(to_dept):
            pick = mine[to_dept == e]
            targets[pick] = by_dept[e][rng.integers(0, len(by_dept[e]), size=pick.size)]
    keep = targets >= 0
    return np.column_stack([sources[keep], targets[keep]])


def build_ties(org: Organisation, cfg: NetworkConfig, rng: np.random.Generator) -> Ties:
    """Generate the tie network from `rng` (the model's network stream)."""
    n = org.n_staff
    if cfg.kind == "well_mixed":
        return Ties(
            indptr=np.zeros(n + 1, dtype=np.int64),
            indices=np.empty(0, dtype=np.int32),
            weights=np.empty(0, dtype=np.float32),
            well_mixed=True,
        )
    parts, wparts = [], []
    for d in range(org.n_departments):
        lo, hi = org.dept_start[d], org.dept_start[d + 1]
        e = _team_edges(int(hi - lo), cfg.team_neighbours, cfg.rewiring, rng) + lo
        parts.append(e)
        wparts.append(np.full(len(e), cfg.team_weight))
    if cfg.supervisor_ties:
        has = np.flatnonzero(org.supervisor >= 0)
        parts.append(np.column_stack([has, org.supervisor[has]]))
        wparts.append(np.full(has.size, cfg.supervisor_weight))
    cross = _cross_edges(org, cfg, rng)
    parts.append(cross)
    wparts.append(np.full(len(cross), cfg.cross_weight))
    edges = np.concatenate(parts).astype(np.int64)
    return ties_from_edges(n, edges[:, 0], edges[:, 1], np.concatenate(wparts))


def ties_from_edges(n: int, source, target, weight) -> Ties:
    """Undirected CSR ties over n posts from an edge list; self-ties are dropped and a pair
    listed twice (e.g. team and supervisor) keeps its strongest tie (a compiled pass:
    `kernels.csr_from_edges`)."""
    indptr, indices, weights = kernels.csr_from_edges(
        n,
        np.asarray(source, dtype=np.int64),
        np.asarray(target, dtype=np.int64),
        np.asarray(weight, dtype=np.float64),
    )
    return Ties(indptr=indptr, indices=indices, weights=weights)


def cross_department_ties(ties: Ties, dept: np.ndarray) -> np.ndarray:
    """int (n,): number of each post's ties that reach another department (brokerage)."""
    if ties.indices.size == 0:
        return np.zeros(ties.n, dtype=np.int64)
    owner = np.repeat(np.arange(ties.n), ties.degree)
    return np.bincount(owner, weights=dept[ties.indices] != dept[owner], minlength=ties.n).astype(
        np.int64
    )


def sample_contacts(
    ties: Ties, rows: np.ndarray, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw m contacts per row with replacement, with probability proportional to tie strength.

    Returns (contacts int (len(rows), m), strength float32 (len(rows), m)); -1 and 0 where a post
    has no ties. In a well-mixed organisation contacts are uniform over all other posts,
    strength 1.
    """
    rows = np.asarray(rows, dtype=np.int64)
    u = rng.random((rows.size, m))
    if ties.well_mixed:
        j = (u * (ties.n - 1)).astype(np.int64)
        j += j >= rows[:, None]
        return j, np.ones(j.shape, dtype=np.float32)
    contacts = np.empty((rows.size, m), dtype=np.int64)
    strength = np.empty((rows.size, m), dtype=np.float32)
    keep, alias = ties.alias
    kernels.sample_contacts(
        ties.indptr, ties.indices, ties.weights, keep, alias, rows, u, contacts, strength
    )
    return contacts, strength
