"""The one place that opens a user's input file: safely, and with one clear line when it is bad.

- Regular files only: a folder, a named pipe (FIFO), a device (/dev/zero, /dev/stdin) or a socket
  is refused from its `os.stat` before it is opened, so nothing hangs or reads without end.
- At most `MAX_FILE_BYTES` (200 MB): larger files are refused before they are read.
- Text is UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one); a binary
  file, UTF-16 text or another encoding (Latin-1, Windows-1252) is refused naming the line.
- CSV cells are unescaped as `sim.inputs.spreadsheet` escapes them (`'=x` reads `=x`), so the
  files this project writes read back exactly.
- YAML is read with PyYAML's safe constructors; aliases (`*name`) may repeat at most
  `MAX_ALIASED_NODES` values in all (a "billion laughs" file is refused at once, not expanded),
  nesting is at most `MAX_YAML_DEPTH` levels, and recursive aliases are refused.
- Numbers must be finite: `finite_float` is None for NaN, ±inf, 1e999 and text that is no number.

Every problem is a `DataError` whose message names the file (and line where there is one).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import numbers
import os
import reprlib
import stat
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.events import AliasEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from sim.errors import DataError, first_line
from sim.inputs.spreadsheet import unescape_cell

#: Largest input file read, in bytes (200 MB: far above any organisation's files, far below RAM).
MAX_FILE_BYTES = 200 * 1000 * 1000
#: Values that YAML aliases may repeat in one file, in all (PyYAML's own dumps alias a shared
#: object; a "billion laughs" file aliases aliases to expand 1 KB into gigabytes).
MAX_ALIASED_NODES = 10_000
#: Deepest nesting of YAML lists and mappings (input files need fewer than ten levels).
MAX_YAML_DEPTH = 100


class _PyParser(Reader, Scanner, Parser):
    """PyYAML's pure-Python parser (without a composer or constructor)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


# libyaml parses when PyYAML has it (ten times faster); composing stays in Python, where aliases
# and depth can be counted (libyaml's composer cannot be watched)
_Parser = getattr(getattr(yaml, "cyaml", None), "CParser", None) or _PyParser


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _bytes(n: int) -> str:
    """A file size for people: bytes below 1 MB, else MB (10^6 bytes)."""
    return f"{n:,} bytes" if n < 1_000_000 else f"{n / 1e6:,.1f} MB"


def _check_stat(path: Path, what: str, st: os.stat_result) -> int:
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: cannot read {what} ({_kind(st.st_mode)}, not a regular file)")
    if st.st_size > MAX_FILE_BYTES:
        raise DataError(
            f"{path}: {what} is {_bytes(st.st_size)}; input files may be at most "
            f"{_bytes(MAX_FILE_BYTES)}"
        )
    return st.st_size


def check_regular_file(path: str | Path, what: str) -> int:
    """Size (bytes) of `path` if it is a regular file within `MAX_FILE_BYTES`; else a one-line
    DataError ("cannot read <what> (...)"). Nothing is opened."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from None
    return _check_stat(Path(path), what, st)


def read_bytes(path: str | Path, what: str) -> bytes:
    """The contents of a regular file within `MAX_FILE_BYTES`; a one-line DataError otherwise."""
    path = Path(path)
    check_regular_file(path, what)
    try:
        # non-blocking: a file swapped for a FIFO after the stat above cannot block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        _check_stat(path, what, os.fstat(fd))
        try:
            data = fh.read(MAX_FILE_BYTES + 1)  # a file growing meanwhile is still bounded
        except OSError as exc:
            raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise DataError(
            f"{path}: {what} is larger than {_bytes(MAX_FILE_BYTES)}, the limit for input files"
        )
    return data


def _where(data: bytes, index: int) -> tuple[int, int]:
    """Line and column (both from 1) of byte `index`; the bytes before it are UTF-8."""
    start = data.rfind(b"\n", 0, index) + 1
    line = data.count(b"\n", 0, index) + 1
    return line, len(data[start:index].decode("utf-8", errors="replace")) + 1


def decode_text(data: bytes, path: str | Path) -> str:
    """UTF-8 text of a file's bytes (a byte-order mark dropped); a one-line DataError naming the
    line of the first byte that is not UTF-8 text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f'{path}:1: UTF-16 text, not UTF-8; save it as UTF-8 ("CSV UTF-8")')
    if data.startswith(b"PK\x03\x04"):
        raise DataError(
            f'{path}:1: a zip file (an Excel workbook?), not text; save it as "CSV UTF-8"'
        )
    data = data.removeprefix(codecs.BOM_UTF8)
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _where(data, nul)
        raise DataError(
            f"{path}:{line}: binary data (a NUL byte in column {col}), not text; "
            "input files must be UTF-8 text"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _where(data, exc.start)
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02X} in column {col}); "
            "save it as UTF-8"
        ) from None


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a user's input file (`what` names it in messages, e.g. "roster file")."""
    return decode_text(read_bytes(path, what), path)


def read_csv_rows(path: str | Path, what: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a CSV file as (line where the row starts, cells), cells unescaped as
    `sim.inputs.spreadsheet.escape_cell` escapes them."""
    reader = csv.reader(io.StringIO(read_text(path, what), newline=""))
    rows, line = [], 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((line, [unescape_cell(c) for c in cells]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    return rows


def read_csv_records(
    path: str | Path, what: str, columns: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """The rows after a header that must be exactly `columns`, as (line, {column: cell}); a
    wrong header or a row of another length is a one-line DataError naming file and line."""
    rows = read_csv_rows(path, what)
    if not rows or tuple(c.strip() for c in rows[0][1]) != tuple(columns):
        raise DataError(f"{path}:1: header must be {','.join(columns)}")
    records = []
    for line, cells in rows[1:]:
        if len(cells) != len(columns):
            raise DataError(f"{path}:{line}: {len(cells)} fields, expected {len(columns)}")
        records.append((line, dict(zip(columns, cells, strict=True))))
    return records


# --- YAML -----------------------------------------------------------------------------------------


class _Refused(MarkedYAMLError):
    """A YAML construct input files may not use (shown without "not valid YAML")."""


def _refused(problem: str, event) -> _Refused:
    return _Refused(problem=problem, problem_mark=event.start_mark)


class _Composer(Composer):
    """PyYAML's composer, counting what aliases repeat and how deep the nesting goes."""

    def __init__(self) -> None:
        super().__init__()
        self._expanded = 0  # nodes as if every alias were written out
        self._aliased = 0  # of which repeated by aliases
        self._size: dict[str, int] = {}  # anchor -> nodes of its value, aliases expanded
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self.anchors:  # an unknown one is PyYAML's error
                size = self._size.get(event.anchor)
                if size is None:
                    raise _refused(f"YAML alias *{event.anchor} refers to its own value", event)
                self._aliased += size
                self._expanded += size
                if self._aliased > MAX_ALIASED_NODES:
                    raise _refused(
                        f"YAML aliases (*{event.anchor}) repeat more than "
                        f"{MAX_ALIASED_NODES:,} values; aliases are not allowed to multiply an "
                        "input file (write the values out)",
                        event,
                    )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _refused(f"nested more than {MAX_YAML_DEPTH} levels deep", event)
        start = self._expanded
        self._expanded += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._size[event.anchor] = self._expanded - start
        return node


class _Constructor(SafeConstructor):
    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # Python refuses integers of more than 4,300 digits
            raise ConstructorError(
                None, None, f"integer of {len(node.value):,} digits is too long", node.start_mark
            ) from None


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


class _Loader(_Composer, _Parser, _Constructor, Resolver):
    """A safe YAML loader with counted aliases and bounded depth."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Composer.__init__(self)
        _Constructor.__init__(self)
        Resolver.__init__(self)


def parse_yaml(text: str, path: str | Path) -> tuple[object, yaml.Node | None]:
    """The data of a YAML document and its node tree (for line numbers: `node.start_mark.line`
    counts from 0); None, None for an empty document. Problems are one-line DataErrors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (None, None) if node is None else (loader.construct_document(node), node)
    except _Refused as exc:
        raise DataError(f"{path}:{exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise DataError(f"{path}{where}: not valid YAML ({problem})") from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path, what: str) -> tuple[object, yaml.Node | None]:
    """The data and node tree of a user's YAML file (see `parse_yaml`)."""
    return parse_yaml(read_text(path, what), path)


# --- numbers ----------------------------------------------------------------------------------


def finite_float(value) -> float | None:
    """`value` (a number, or the text of one) as a finite float; None for NaN, ±inf, numbers
    beyond float range, booleans and anything else."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, str | numbers.Real):
            number = float(value)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def is_float_text(text: str) -> bool:
    """Whether `text` reads as a float at all (NaN and infinities included)."""
    try:
        float(text)
    except (ValueError, OverflowError):
        return False
    return True


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 8
_SHORT.maxlevel = 3


def cut(text: str, limit: int = 60) -> str:
    """`text` cut to at most `limit` characters (its start and end), for messages."""
    keep = max(1, (limit - 3) // 2)
    return text if len(text) <= limit else f"{text[:keep]}...{text[-keep:]}"


def shown(value) -> str:
    """`repr(value)` cut short (long text, long lists, deep nesting), for messages."""
    try:
        return _SHORT.repr(value)
    except ValueError:  # an integer too long to print
        return "a very long number"
