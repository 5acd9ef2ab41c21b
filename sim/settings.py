"""Settings declared once: each dataclass field carries its default, unit, range and source.

    from sim.settings import setting, integer, share
    @dataclass
    class Example:
        months: int = setting(6, "months", integer(1), "assumption: half a year")

From that one declaration `check(obj, prefix)` validates an instance (one-line `ConfigError`
naming the first bad setting, in field order) and `markdown_table(cls, prefix)` writes the
parameter table of the docs (docs/settings_tables.py writes them into docs/model.md). Works
for any dataclass. Rules between settings stay with the dataclasses that need them; a
declaration's `also` note says so in the docs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sim.errors import ConfigError


@dataclass(frozen=True)
class Allowed:
    """The values a setting accepts: a test, its error text, its docs text, values just outside."""

    accepts: Callable[[Any], bool]
    #: End of the error message, after "<name> = <value>: ".
    problem: str
    #: The docs' "Allowed" column.
    text: str
    #: Values just outside the allowed ones (for tests).
    outside: tuple


@dataclass(frozen=True)
class Setting:
    """One declared setting (stored in its dataclass field's metadata)."""

    default: Any
    unit: str | None
    allowed: Allowed
    source: str
    also: str = ""
    #: For an uncertain behavioural parameter: the range its true value is assumed to lie in
    #: (what the sensitivity analysis samples and calibration priors span), else None.
    plausible: tuple[float, float] | None = None


# --- declaring ----------------------------------------------------------------------------------


def setting(
    default: Any,
    unit: str | None,
    allowed: Allowed,
    source: str,
    *,
    also: str = "",
    plausible: tuple[float, float] | None = None,
):
    """A dataclass field with its default, unit (None = none), allowed values and source.

    `also` names rules between settings checked elsewhere; it is appended to the docs' "Allowed"
    text (after a space, or directly when it starts with "," or ";"). `plausible`: for an
    uncertain parameter, the range its true value is assumed to lie in.
    """
    meta = {"setting": Setting(default, unit, allowed, source, also, plausible)}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def declared(cls, own: bool = False) -> Iterator[tuple[str, Setting]]:
    """(field name, declaration) of every declared field of a dataclass, in field order; with
    `own`, only those the class itself declares (not those it inherits)."""
    mine = cls.__dict__.get("__annotations__", {})
    for f in dataclasses.fields(cls):
        if "setting" in f.metadata and (not own or f.name in mine):
            yield f.name, f.metadata["setting"]


# --- kinds of allowed values ----------------------------------------------------------------------


def is_int(v: Any) -> bool:
    """A Python integer that is not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite int or float that is not a bool (an int of any size is finite: no float())."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


#: Upper bound of every integer setting that declares no lower one: far above any count the
#: model needs, far below what int64 tables and memory can hold.
MAX_INTEGER = 10**9


def _big(x: float) -> str:
    """A bound as the docs and messages write it: 1000000000 -> "10^9", 1200 -> "1200"."""
    if x >= 10**4 and math.log10(x).is_integer():
        return f"10^{int(math.log10(x))}"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def integer(low: int, high: int = MAX_INTEGER) -> Allowed:
    """An integer in [low, high] (every count has an upper bound: resources, int64 tables)."""
    what = f"an integer in [{low}, {_big(high)}]"
    return Allowed(
        lambda v: is_int(v) and low <= v <= high,
        f"must be {what}",
        f"integer in [{low}, {_big(high)}]",
        (low - 1, high + 1),
    )


def number(low: float | None = None, strict: bool = False) -> Allowed:
    """A finite number; with `low`, >= low (> low if strict)."""
    if low is None:
        return Allowed(is_number, "must be a number", "number", (math.nan, "1"))
    sign, text = (">", ">") if strict else (">=", "≥")
    edge = low if strict else math.nextafter(low, -math.inf)
    return Allowed(
        lambda v: is_number(v) and (v > low if strict else v >= low),
        f"must be a number {sign} {low}",
        f"number {text} {low:g}",
        (edge,),
    )


def interval(low: float, high: float, open_low: bool = False) -> Allowed:
    """A number in [low, high], or in (low, high] if open_low."""
    span = f"{'(' if open_low else '['}{low:g}, {_big(high)}]"
    below = low if open_low else math.nextafter(low, -math.inf)
    return Allowed(
        lambda v: is_number(v) and (v > low if open_low else v >= low) and v <= high,
        f"must be a number in {span}",
        f"number in {span}",
        (below, math.nextafter(high, math.inf)),
    )


def share() -> Allowed:
    """A number in [0, 1] (a share, probability or rate per month)."""
    return interval(0.0, 1.0)


def one_of(choices: tuple[str, ...]) -> Allowed:
    """One of a tuple of names."""
    return Allowed(
        lambda v: v in choices,
        f"unknown name; allowed: {', '.join(choices)}",
        ", ".join(f"`{c}`" for c in choices),
        ("no_such_" + choices[0],),
    )


def names() -> Allowed:
    """A list of strings (ids)."""
    return Allowed(
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "must be a list of names",
        "list of names",
        ([1], "a"),
    )


def boolean() -> Allowed:
    """True or False (not 0 or 1)."""
    return Allowed(lambda v: isinstance(v, bool), "must be true or false", "true or false", (1,))


def text() -> Allowed:
    """A non-empty string."""
    return Allowed(
        lambda v: isinstance(v, str) and bool(v),
        "must be a non-empty string",
        "non-empty string",
        ("", None),
    )


def path_or_null() -> Allowed:
    """A non-empty file path, or None."""
    return Allowed(
        lambda v: v is None or (isinstance(v, str) and bool(v)),
        "must be a file path or null",
        "file path or null",
        ("", 1),
    )


def name_or_null(what: str) -> Allowed:
    """A string naming `what` (e.g. "a Tokyo bureau id"), or None."""
    return Allowed(
        lambda v: v is None or isinstance(v, str),
        f"must be {what} or null",
        f"null or {what}",
        (1,),
    )


def optional(kind: Allowed) -> Allowed:
    """None, or a value of `kind` (same error text as `kind`)."""
    outside = tuple(v for v in kind.outside if v is not None)
    return Allowed(
        lambda v: v is None or kind.accepts(v), kind.problem, f"null or {kind.text}", outside
    )


# --- checking and documenting -------------------------------------------------------------------


def setting_name(prefix: str, name: str) -> str:
    """'section.name', or just 'name' at the top level (empty prefix)."""
    return f"{prefix}.{name}" if prefix else name


def problem(obj, prefix: str = "") -> str | None:
    """One-line message for the first declared field of `obj` that is not allowed, else None."""
    for name, s in declared(type(obj)):
        value = getattr(obj, name)
        if not s.allowed.accepts(value):
            return f"{setting_name(prefix, name)} = {value!r}: {s.allowed.problem}"
    return None


def check(obj, prefix: str = "") -> None:
    """Raise ConfigError for the first declared field of `obj` whose value is not allowed."""
    message = problem(obj, prefix)
    if message:
        raise ConfigError(message)


def allowed_text(s: Setting) -> str:
    """The docs' "Allowed" text: the kind's text, then the `also` note."""
    if not s.also:
        return s.allowed.text
    return s.allowed.text + ("" if s.also[0] in ",;" else " ") + s.also


def default_text(value: Any) -> str:
    """A default as the docs show it: strings in double quotes, other values as Python writes
    them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(cls, prefix: str = "") -> str:
    """Markdown table (Name | Default | Unit | Allowed | Plausible range | Source / reasoning) of
    the settings a dataclass declares itself (a subclass's table leaves out what it inherits)."""
    rows = [
        "| Name | Default | Unit | Allowed | Plausible range | Source / reasoning |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in declared(cls, own=True):
        cells = (
            f"`{setting_name(prefix, name)}`",
            f"`{default_text(s.default)}`",
            s.unit or "—",
            allowed_text(s),
            f"{s.plausible[0]:g}–{s.plausible[1]:g}" if s.plausible else "—",
            s.source,
        )
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def plausible_ranges(cls) -> dict[str, tuple[float, float]]:
    """name -> plausible range of every uncertain parameter a dataclass declares, in order."""
    return {name: s.plausible for name, s in declared(cls) if s.plausible is not None}
