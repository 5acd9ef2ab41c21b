"""Every input file is read safely (sim/inputs/files.py): a bad file is one line naming it, never a
traceback, a hang or gigabytes read. Files that are not regular (FIFO, device, folder), too large,
binary or not UTF-8; a UTF-8 byte-order mark; YAML alias bombs; numbers that are not finite, in
every loader: departments, practices (YAML and CSV), roster, ties (CSV and GraphML), calibration
targets and posterior draws."""

from __future__ import annotations

import codecs
import csv
import os
import pickle
from pathlib import Path

import pandas as pd
import pytest

from experiments.calibration.targets import load_targets
from experiments.study.posterior import posterior_of
from sim import UserError
from sim.inputs import files
from sim.inputs.roster import load_roster, load_ties
from sim.inputs.spreadsheet import escape_cell
from sim.organisation import load_departments
from sim.practices import load_practices
from tests.conftest import ROOT, practice, write_departments, write_practices

CITY = ROOT / "examples" / "fictional_city"
CITY_DEPARTMENTS = load_departments(CITY / "departments.csv")
CITY_PRACTICES = load_practices(CITY / "practices.csv").ids
CITY_STAFF = list(pd.read_csv(CITY / "roster.csv", dtype=str)["id"])

TARGETS = """\
targets:
  - name: a
    statistic: returnees_applying
    lag: 6
    observed: 0.44
    sd: 0.08
    source: a survey
"""


def graphml(weight: str, kind: str = "double") -> str:
    """A GraphML file of ties p000-p001 (weight 1) and p001-p002 (`weight`, typed `kind`)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="edge" attr.name="weight" attr.type="{kind}"/>
  <graph edgedefault="undirected">
    <node id="p000"/><node id="p001"/><node id="p002"/>
    <edge source="p000" target="p001"><data key="d0">1.0</data></edge>
    <edge source="p001" target="p002"><data key="d0">{weight}</data></edge>
  </graph>
</graphml>
"""


#: Every loader of a user's file: (file suffix, load it).
LOADERS = {
    "departments": (".csv", load_departments),
    "practices_yaml": (".yaml", load_practices),
    "practices_csv": (".csv", load_practices),
    "roster": (".csv", lambda p: load_roster(p, CITY_DEPARTMENTS, CITY_PRACTICES)),
    "ties_csv": (".csv", lambda p: load_ties(p, CITY_STAFF)),
    "ties_graphml": (".graphml", lambda p: load_ties(p, CITY_STAFF)),
    "targets": (".yaml", load_targets),
    "posterior": (".parquet", lambda p: posterior_of({"posterior": str(p)})),
}
TEXT_LOADERS = [k for k in LOADERS if k not in ("ties_graphml", "posterior")]
YAML_LOADERS = {
    "practices_yaml": ("practices", load_practices),
    "targets": ("targets", load_targets),
}


def refused(load, path, *parts: str) -> str:
    """The one-line message `load(path)` refuses the file with; it names the file."""
    with pytest.raises(UserError) as err:
        load(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text, text
    for part in parts:
        assert part in text, text
    return text


def valid_file(loader: str, path: Path) -> Path:
    """A valid file for `loader` at `path`."""
    sources = {
        "departments": CITY / "departments.csv",
        "practices_csv": CITY / "practices.csv",
        "roster": CITY / "roster.csv",
        "ties_csv": CITY / "ties.csv",
    }
    if loader in sources:
        path.write_bytes(sources[loader].read_bytes())
    elif loader == "practices_yaml":
        write_practices(path, [practice("a")])
    elif loader == "targets":
        path.write_text(TARGETS, encoding="utf-8")
    elif loader == "ties_graphml":
        path.write_text(graphml("0.5"), encoding="utf-8")
    else:
        pd.DataFrame({"draw": [0, 1], "forgetting_rate": [0.01, 0.02]}).to_parquet(path)
    return path


# --- not a regular file, too large ----------------------------------------------------------------


@pytest.mark.parametrize("loader", LOADERS)
def test_every_loader_reads_its_valid_file(tmp_path, loader):
    suffix, load = LOADERS[loader]
    assert load(valid_file(loader, tmp_path / f"in{suffix}")) is not None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("loader", LOADERS)
def test_a_named_pipe_is_refused_without_opening_it(tmp_path, loader):
    suffix, load = LOADERS[loader]
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)  # no writer: opening it for reading would wait for ever
    refused(load, fifo, "a named pipe (FIFO), not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("loader", LOADERS)
def test_a_device_is_refused_without_reading_it(loader):
    refused(LOADERS[loader][1], Path("/dev/zero"), "a character device, not a regular file")


# posterior=<folder> means the folder's posterior_draws.parquet (tested in test_calibration.py)
@pytest.mark.parametrize("loader", [k for k in LOADERS if k != "posterior"])
def test_a_folder_is_refused(tmp_path, loader):
    suffix, load = LOADERS[loader]
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    refused(load, folder, "a folder, not a regular file")


@pytest.mark.parametrize("loader", LOADERS)
def test_a_file_above_the_size_limit_is_refused(tmp_path, monkeypatch, loader):
    suffix, load = LOADERS[loader]
    path = valid_file(loader, tmp_path / f"big{suffix}")
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 100)
    size = path.stat().st_size
    refused(load, path, f"is {size:,} bytes; input files may be at most 100 bytes")


def test_a_missing_file_is_one_line(tmp_path):
    for loader, (suffix, load) in LOADERS.items():
        text = refused(load, tmp_path / f"{loader}{suffix}")
        assert "cannot read" in text or "no such file" in text


# --- encodings and binary files -------------------------------------------------------------------


@pytest.mark.parametrize("loader", TEXT_LOADERS)
def test_latin1_text_names_the_file_the_line_and_the_byte(tmp_path, loader):
    suffix, load = LOADERS[loader]
    path = valid_file(loader, tmp_path / f"latin1{suffix}")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("a", "é", 1) if "a" in lines[2] else "é" + lines[2]
    col = lines[2].index("é") + 1
    path.write_bytes("".join(lines).encode("latin-1"))
    refused(load, path, f"{path}:3: not UTF-8 text (byte 0xE9 in column {col}); save it as UTF-8")


@pytest.mark.parametrize("loader", TEXT_LOADERS)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,name\nx\x00\x01\x02,y\n", ":2: binary data (a NUL byte in column 2), not text"),
        ("id,name\nx,y\n".encode("utf-16"), ":1: UTF-16 text, not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", ":1: a zip file (an Excel workbook?), not text"),
    ],
    ids=["nul", "utf16", "xlsx"],
)
def test_a_binary_file_is_refused(tmp_path, loader, content, message):
    suffix, load = LOADERS[loader]
    path = tmp_path / f"binary{suffix}"
    path.write_bytes(content)
    refused(load, path, message)


@pytest.mark.parametrize("loader", TEXT_LOADERS)
def test_a_utf8_byte_order_mark_is_accepted(tmp_path, loader):
    suffix, load = LOADERS[loader]
    plain = valid_file(loader, tmp_path / f"plain{suffix}")
    excel = tmp_path / f"excel{suffix}"  # Excel's "CSV UTF-8" starts with a byte-order mark
    excel.write_bytes(codecs.BOM_UTF8 + plain.read_bytes())
    before, after = load(plain), load(excel)
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    else:
        assert pickle.dumps(before) == pickle.dumps(after)


def test_packaged_departments_with_a_byte_order_mark_are_the_same(tmp_path):
    path = tmp_path / "departments.csv"
    path.write_bytes(codecs.BOM_UTF8 + (ROOT / "sim" / "data" / "departments.csv").read_bytes())
    pd.testing.assert_frame_equal(load_departments(path), load_departments())


# --- CSV cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=x", "=SUM(A1:A9)", "+1", "-a", "@b", "'=x", "''+y", "plain"])
def test_an_escaped_cell_reads_back_exactly(tmp_path, text):
    path = tmp_path / "cells.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "name"], ["a", escape_cell(text)]])
    assert files.read_csv_rows(path, "test file") == [(1, ["id", "name"]), (2, ["a", text])]


def test_an_escaped_department_name_reads_as_written(tmp_path):
    path = write_departments(tmp_path / "d.csv", [{"id": "a", "headcount": 5, "name": "'=x"}])
    assert list(load_departments(path)["name"]) == ["=x"]


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    path = tmp_path / "d.csv"
    write_departments(path, [{"id": "a", "headcount": 5, "name": "two\nlines"}])
    path.write_text(path.read_text() + "\n\nb,b,dinas,public_services,-1,0.5,1,x,,s\n")
    refused(load_departments, path, f"{path}:6: column headcount (col 5): -1 must be")


def test_a_huge_csv_field_is_one_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,name\n"a' + "x" * 200_000 + '",b\n')
    refused(load_departments, path, ":2: not valid CSV (field larger than field limit")


# --- YAML ----------------------------------------------------------------------------------------

#: 1 KB that PyYAML's safe_load would expand to 387 million values (9 levels of 9 aliases).
ALIAS_BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


@pytest.mark.parametrize("loader", YAML_LOADERS)
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, loader):
    key, load = YAML_LOADERS[loader]
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB + f"{key}: *a9\n")
    assert len(ALIAS_BOMB) < 1024
    refused(load, path, f"{path}:5: YAML aliases (*a3) repeat more than 10,000 values")


@pytest.mark.parametrize("loader", YAML_LOADERS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x: &x [1, *x]\n", ":1: YAML alias *x refers to its own value"),
        ("x: " + "[" * 500 + "]" * 500 + "\n", ":1: nested more than 100 levels deep"),
        ("x: " + "9" * 5000 + "\n", ":1: not valid YAML (integer of 5,000 digits is too long)"),
        ("x: !!python/object/apply:os.system [ls]\n", "could not determine a constructor"),
    ],
    ids=["recursive", "deep", "long_integer", "python_tag"],
)
def test_unsafe_yaml_is_one_line(tmp_path, loader, body, message):
    key, load = YAML_LOADERS[loader]
    path = tmp_path / "unsafe.yaml"
    path.write_text(body + f"{key}: []\n")
    refused(load, path, message)


def test_a_shared_entry_that_pyyaml_dumps_as_an_alias_still_reads(tmp_path):
    shared = practice("a")
    path = write_practices(tmp_path / "p.yaml", [shared, shared])  # written as &id001 / *id001
    assert "*id001" in path.read_text()
    refused(load_practices, path, "practice 'a', key id: duplicate id")


# --- numbers must be finite ----------------------------------------------------------------------


def departments_with(column: str, value: str, tmp_path: Path) -> Path:
    header = "id,name,domain,headcount,baseline_quality,weight,share_section_heads\n"
    row = {"baseline_quality": "0.5", "weight": "1", "share_section_heads": ""} | {column: value}
    path = tmp_path / "departments.csv"
    path.write_text(
        header + f"a,A,governance,10,{row['baseline_quality']},{row['weight']},"
        f"{row['share_section_heads']}\n"
    )
    return path


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("weight", "inf", "column weight (col 6): inf must be a positive finite number"),
        ("weight", "-inf", "column weight (col 6): -inf must be a positive finite number"),
        ("weight", "nan", "column weight (col 6): nan must be a positive finite number"),
        ("weight", "1e999", "column weight (col 6): 1e999 must be a positive finite number"),
        ("baseline_quality", "NaN", "column baseline_quality (col 5): NaN must be a finite number"),
        ("share_section_heads", "inf", "column share_section_heads (col 7): inf must be a finite"),
    ],
)
def test_a_department_number_that_is_not_finite_is_refused(tmp_path, column, value, message):
    path = departments_with(column, value, tmp_path)
    refused(load_departments, path, f"{path}:2: {message}")


def edited(source: Path, path: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("loader", "old", "new", "message"),
    [
        ("roster", ",0.603,", ",inf,", ":2: column capacity (col 6): inf must be a finite number"),
        ("roster", "0.469,0.081", "0.469,nan", ":2: column proficiency_flood_management (col 8)"),
        ("ties_csv", "p000,p001,1", "p000,p001,nan", ":2: column weight (col 3): nan must be a"),
        (
            "practices_csv",
            "0.45,0.15,0.45",
            "0.45,inf,0.45",
            ":2: practice 'flood_management', key impact: inf must be a finite number in [0, 1]",
        ),
        (
            "practices_csv",
            "water:1.0;",
            "water=1.0;",
            ":2: column relevance_departments (col 15): 'water=1.0' must be department:number",
        ),
    ],
)
def test_a_bad_csv_value_names_file_line_and_column(tmp_path, loader, old, new, message):
    suffix, load = LOADERS[loader]
    path = edited(valid_file(loader, tmp_path / f"v{suffix}"), tmp_path / f"bad{suffix}", old, new)
    refused(load, path, f"{path}{message}")


@pytest.mark.parametrize(
    ("key", "old", "new", "message"),
    [
        ("tacitness", ": 0.0", ": .nan", "key tacitness: nan must be a finite number in [0, 1]"),
        ("impact", ": 0.2", ": -.inf", "key impact: -inf must be a finite number in [0, 1]"),
        ("relevance", "economy: 1.0", "economy: .inf", "key relevance: economy = inf must be a"),
        ("jakarta_prior", ": 0.0", ": 1.0e+999", "key jakarta_prior: inf must be a finite"),
    ],
)
def test_a_yaml_practice_number_that_is_not_finite_is_refused(tmp_path, key, old, new, message):
    text = write_practices(tmp_path / "valid.yaml", [practice("a")]).read_text()
    if old.startswith(":"):
        old, new = key + old, key + new
    path = edited_text(tmp_path / "p.yaml", text, old, new)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(f"  {key}:"))
    refused(load_practices, path, f"{path}:{line}: practice 'a', {message}")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("observed: 0.44", "observed: .inf", "observed = inf: must be a finite number"),
        ("observed: 0.44", "observed: -.inf", "observed = -inf: must be a finite number"),
        ("observed: 0.44", "observed: 1" + "0" * 400, "must be a finite number"),
        ("sd: 0.08", "sd: .inf", "sd = inf: must be a positive finite number"),
        ("sd: 0.08", "sd: .nan", "sd = nan: must be a positive finite number"),
        ("sd: 0.08", "interval: [0, .inf]", "interval = [0, inf]: must be [low, high]"),
        ("sd: 0.08", "interval: [-1.0e+308, 1.0e+308]", "too wide to be a 90% interval"),
        ("lag: 6", "lag: .inf", "lag = inf: must be a whole number of months >= 0"),
    ],
)
def test_a_target_that_is_not_finite_is_refused(tmp_path, old, new, message):
    path = edited_text(tmp_path / "targets.yaml", TARGETS, old, new)
    refused(load_targets, path, f"{path}:2: target 'a': ", message)


def edited_text(path: Path, text: str, old: str, new: str) -> Path:
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.01, float("nan")], "draw 1: forgetting_rate = nan: must be a finite number; allowed:"),
        ([float("inf"), 0.01], "draw 0: forgetting_rate = inf: must be a finite number"),
        (["0.01", "0.02"], "column 'forgetting_rate' holds "),
    ],
)
def test_a_posterior_draw_that_is_not_finite_is_refused(tmp_path, values, message):
    path = tmp_path / "draws.parquet"
    pd.DataFrame({"draw": [0, 1], "forgetting_rate": values}).to_parquet(path)
    refused(LOADERS["posterior"][1], path, f"posterior = '{path}': ", message)


# --- GraphML --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "weight", "shown"),
    [
        ("double", "strong", "'strong'"),  # networkx cannot convert it: found in the XML
        ("string", "strong", "'strong'"),
        ("double", "inf", "inf"),
        ("string", "-inf", "'-inf'"),
        ("double", "NaN", "nan"),
        ("double", "1e999", "inf"),
        ("string", "1e999", "'1e999'"),
    ],
)
def test_a_graphml_weight_that_is_not_a_finite_number_names_file_and_edge(
    tmp_path, kind, weight, shown
):
    path = tmp_path / "ties.graphml"
    path.write_text(graphml(weight, kind))
    refused(
        LOADERS["ties_graphml"][1],
        path,
        f"{path}: edge 'p001'-'p002': weight {shown} must be a finite number in (0, 1]",
    )


def test_a_graphml_entity_bomb_is_one_line(tmp_path):
    entities = '<!ENTITY e0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    )
    path = tmp_path / "ties.graphml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE graphml [{entities}]>'
        + graphml("&e9;", "string").split("?>", 1)[1]
    )
    refused(lambda p: load_ties(p, CITY_STAFF), path, "not a readable GraphML file")
