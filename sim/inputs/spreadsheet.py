"""Spreadsheet-safe text cells in CSV files (the usual defence against formula injection).

A spreadsheet opening a CSV file runs a cell that begins with `=`, `+`, `-` or `@` (or a tab or
carriage return) as a formula. Every CSV file this project writes escapes such a text cell with a
leading apostrophe (`=cmd` is written `'=cmd`), which spreadsheets show as the text itself; every
CSV file it reads undoes exactly that escaping, so an exported roster reads back unchanged.
Numbers are written as numbers (a negative number is not text and is not escaped). Parquet files
keep the text as it is.
"""

from __future__ import annotations

#: First characters that make a spreadsheet treat a cell as a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows as text: a leading apostrophe before a formula
    character ("=1+1" -> "'=1+1", and "'=1" -> "''=1" so that reading back is exact); other
    text unchanged."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def unescape_cell(text: str) -> str:
    """The inverse of `escape_cell` ("'=1+1" -> "=1+1"); other text unchanged."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START):
        return text[1:]
    return text
