"""The packaged data files and the organisation and network built from them."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim import DataError, ExchangeModel, ModelConfig, NetworkConfig, ScenarioConfig
from sim.network import _seed, _team_edges, build_ties, sample_contacts, ties_from_edges
from sim.organisation import (
    DIVISION_HEAD,
    DOMAINS,
    HEAD,
    SECTION_HEAD,
    STAFF,
    build_organisation,
    department_posts,
    load_departments,
)
from sim.practices import load_practices
from tests.conftest import write_departments


def test_packaged_departments_total_60000_with_reasons():
    deps = load_departments()
    assert deps.headcount.sum() == 60_000
    assert 40 <= len(deps) <= 48 and deps.id.is_unique
    assert set(deps.domain) == set(DOMAINS)
    assert deps.source.str.startswith("assumption").all()
    for city in ("city_central", "city_north", "city_west", "city_south", "city_east"):
        assert city in set(deps.id)
    assert "kepulauan_seribu" in set(deps.id)


def test_packaged_practices_are_taught_somewhere_and_relevant():
    deps = load_departments()
    cat = load_practices(department_ids=list(deps.id))
    assert 10 <= cat.n <= 15
    taught = cat.taught(sorted(set(deps.tokyo_bureau)))
    assert taught.any(axis=0).all()
    rel = cat.relevance(list(deps.id), list(deps.domain))
    assert rel.shape == (len(deps), cat.n) and rel.max(axis=0).min() >= 0.8


def test_department_posts_pyramid():
    rank, sup = department_posts(100, section_span=10, division_span=4)
    assert rank[0] == HEAD and sup[0] == -1
    assert (rank == DIVISION_HEAD).sum() == 3 and (rank == SECTION_HEAD).sum() == 9
    assert (rank == STAFF).sum() == 100 - 1 - 3 - 9
    # everyone reports to someone of the next rank up
    others = np.arange(1, 100)
    assert (rank[sup[others]] > rank[others]).all()


def test_ties_symmetric_no_self_loops_and_supervised():
    org = build_organisation(load_departments(), scale=0.02)
    ties = build_ties(org, NetworkConfig(), np.random.default_rng(0))
    a = ties.matrix()
    assert (abs(a - a.T)).max() == 0
    assert a.diagonal().sum() == 0
    assert ties.weights.min() > 0 and ties.weights.max() <= 1
    has_sup = np.flatnonzero(org.supervisor >= 0)
    assert (a[has_sup, org.supervisor[has_sup]] > 0).all()
    cross = org.dept[ties.indices] != org.dept[np.repeat(np.arange(ties.n), ties.degree)]
    # cross-department ties only between managers
    owners = np.repeat(np.arange(ties.n), ties.degree)
    assert (org.rank[owners[cross]] > STAFF).all() and (org.rank[ties.indices[cross]] > STAFF).all()


def test_ties_are_seeded():
    org = build_organisation(load_departments(), scale=0.02)
    t1 = build_ties(org, NetworkConfig(), np.random.default_rng(5))
    t2 = build_ties(org, NetworkConfig(), np.random.default_rng(5))
    assert np.array_equal(t1.indices, t2.indices) and np.array_equal(t1.indptr, t2.indptr)


def test_rewiring_shortens_paths_and_lowers_clustering(tmp_path):

    f = write_departments(tmp_path / "d.csv", [{"id": "d", "headcount": 300}])
    org = build_organisation(load_departments(f))
    out = {}
    for p in (0.0, 0.2):
        cfg = NetworkConfig(team_neighbours=6, rewiring=p, supervisor_ties=False)
        g = build_ties(org, cfg, np.random.default_rng(1)).to_networkx()
        out[p] = (nx.average_clustering(g), nx.average_shortest_path_length(g))
    assert out[0.2][0] < out[0.0][0] and out[0.2][1] < out[0.0][1] / 2


def test_contacts_follow_tie_strength():
    from sim.network import Ties

    # post 0 tied to 1 (strength 1.0) and 2 (strength 0.25)
    ties = Ties(
        indptr=np.array([0, 2, 3, 4]),
        indices=np.array([1, 2, 0, 0], dtype=np.int32),
        weights=np.array([1.0, 0.25, 1.0, 0.25], dtype=np.float32),
    )
    contacts, strength = sample_contacts(
        ties, np.zeros(20000, dtype=int), 1, np.random.default_rng(0)
    )
    share_1 = (contacts == 1).mean()
    assert share_1 == pytest.approx(0.8, abs=0.01)
    assert set(np.unique(strength)) == {np.float32(1.0), np.float32(0.25)}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"id": "x", "headcount": -3},
            "column headcount (col 5): -3 must be a whole number from 1 to 10,000,000",
        ),
        (
            {"id": "x", "headcount": 10**12},  # a typo must not allocate a trillion staff
            "column headcount (col 5): 1000000000000 must be a whole number from 1 to 10,000,000",
        ),
        (
            {"id": "x", "headcount": "many"},
            "column headcount (col 5): 'many' is not a whole number",
        ),
        ({"id": "x", "headcount": 3, "domain": "magic"}, "column domain (col 4): 'magic' is not"),
        ({"id": "x", "headcount": 3, "related": "y"}, "unknown department id 'y'"),
        ({"id": "x", "headcount": 3, "baseline_quality": 2}, "baseline_quality (col 6): 2.0 must"),
    ],
)
def test_bad_department_rows_name_file_line_and_column(tmp_path, row, message):
    f = write_departments(tmp_path / "d.csv", [{"id": "ok", "headcount": 5}, row])
    with pytest.raises(DataError) as err:
        load_departments(f)
    assert str(err.value).startswith(f"{f}:3: ") and message in str(err.value)


def test_duplicate_department_id(tmp_path):
    f = write_departments(tmp_path / "d.csv", [{"id": "a", "headcount": 5}] * 2)
    with pytest.raises(DataError, match=r"d.csv:3: column id \(col 1\): duplicate id 'a'"):
        ExchangeModel(ModelConfig(scenario=ScenarioConfig(departments_file=str(f))))


@pytest.mark.parametrize("n", [10, 13, 257, 1000])
@pytest.mark.parametrize("k", [2, 4, 8])
@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 1.0])
def test_team_graphs_are_networkx_watts_strogatz_graphs(n, k, p):
    """The compiled generator reproduces networkx's graph for the same seed, edge for edge."""
    if n <= k + 1:
        pytest.skip("complete graph")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        ours = _team_edges(n, k, p, rng)
        theirs = nx.watts_strogatz_graph(n, k, p, seed=_seed(np.random.default_rng(seed)))
        assert {tuple(sorted(e)) for e in ours.tolist()} == {
            tuple(sorted(e)) for e in theirs.edges()
        }


def test_csr_ties_from_an_edge_list_by_hand_and_at_random():
    """Both directions, no self-tie, neighbours ascending, a repeated pair keeps its strongest
    tie: checked by hand, then against a sort of all (post, neighbour, -strength) triples."""
    ties = ties_from_edges(3, np.array([0, 1, 2, 1]), np.array([1, 1, 0, 0]), [0.5, 1.0, 1.0, 0.8])
    assert ties.indptr.tolist() == [0, 2, 3, 4]
    assert ties.indices.tolist() == [1, 2, 0, 0]
    assert ties.weights.tolist() == pytest.approx([0.8, 1.0, 0.8, 1.0])
    rng = np.random.default_rng(3)
    for _ in range(20):
        n, m = int(rng.integers(2, 200)), int(rng.integers(0, 1500))
        s, t = rng.integers(0, n, m), rng.integers(0, n, m)
        w = rng.choice([0.25, 0.5, 1.0], m)
        rows, cols, ww = np.r_[s, t], np.r_[t, s], np.r_[w, w]
        keep = rows != cols
        rows, cols, ww = rows[keep], cols[keep], ww[keep]
        order = np.lexsort((-ww, cols, rows))
        rows, cols, ww = rows[order], cols[order], ww[order]
        first = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
        got = ties_from_edges(n, s, t, w)
        assert got.indices.tolist() == cols[first].tolist()
        assert got.weights.tolist() == ww[first].astype(np.float32).tolist()
        assert (
            got.indptr.tolist()
            == np.r_[0, np.cumsum(np.bincount(rows[first], minlength=n))].tolist()
        )
