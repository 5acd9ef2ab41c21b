"""Write the parameter tables of a Markdown file from the settings' declarations.

    .venv/bin/python docs/settings_tables.py docs/model.md

A table sits between `<!-- settings: [prefix = ]module:Class -->` and `<!-- /settings -->`; it is
rewritten from `sim.settings.markdown_table` of that class (of the model, `sim.config`, or of a
study, `experiments.study.settings`). A docs tool, outside the libraries: it imports the classes the
Markdown names, by name, which neither library may do.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from sim.settings import markdown_table

#: A generated block: `<!-- settings: [prefix = ]module:Class -->` ... `<!-- /settings -->`.
BLOCK = re.compile(
    r"(?P<open><!-- settings: (?:(?P<prefix>[\w.]+) = )?(?P<module>[\w.]+):(?P<cls>\w+) -->\n)"
    r".*?(?P<close><!-- /settings -->)",
    re.S,
)


def blocks(markdown: str) -> list[tuple[str, type]]:
    """(prefix, class) of every generated block of a Markdown text, in order."""
    return [(m["prefix"] or "", _resolve(m)) for m in BLOCK.finditer(markdown)]


def _resolve(m: re.Match) -> type:
    return getattr(importlib.import_module(m["module"]), m["cls"])


def render(markdown: str) -> str:
    """The Markdown text with every generated block rewritten from the declarations."""

    def table(m: re.Match) -> str:
        return m["open"] + markdown_table(_resolve(m), m["prefix"] or "") + m["close"]

    return BLOCK.sub(table, markdown)


def main(argv: list[str]) -> int:
    """Rewrite the generated tables of the given Markdown files in place."""
    if not argv:
        print("usage: python docs/settings_tables.py FILE.md [FILE.md ...]", file=sys.stderr)
        return 2
    for arg in argv:
        path = Path(arg)
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
        print(f"{path}: {len(blocks(old))} tables {'rewritten' if new != old else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
