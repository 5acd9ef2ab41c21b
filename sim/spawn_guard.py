"""A warning, once, for a script that calls `mesa.batch_run(..., number_processes>1)` outside
`if __name__ == "__main__":`.

`import mesa` makes every new process start by spawn: a worker imports the parent's script
again, which without the guard calls batch_run again inside the worker, which refuses to start
processes while bootstrapping and dies; the pool replaces it, for ever. The parent cannot see
that from its workers, so the script's own text is read once, when the parent imports `sim`.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
import warnings

#: Mesa's batch_run runs in this process when `number_processes` is 1 (its default).
SERIAL = 1


def unguarded_parallel_calls(source: str) -> list[int]:
    """Line numbers of calls to `batch_run` with `number_processes` other than 1 (None, a
    number > 1 or any expression) that run when the module is imported: outside functions,
    classes and `if __name__ == "__main__":`."""
    finder = _Finder()
    finder.visit(ast.parse(source))
    return finder.lines


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.lines: list[int] = []

    def visit_FunctionDef(self, node: ast.AST) -> None:  # noqa: N802 (ast's names)
        return  # runs only when called

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815
    visit_Lambda = visit_FunctionDef  # noqa: N815

    def visit_ClassDef(self, node: ast.ClassDef) -> None:  # noqa: N802
        return  # methods run when called; a class body calling batch_run is not worth a rule

    def visit_If(self, node: ast.If) -> None:  # noqa: N802
        if _is_main_guard(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name == "batch_run" and _parallel(node):
            self.lines.append(node.lineno)
        self.generic_visit(node)


def _is_main_guard(test: ast.AST) -> bool:
    """`__name__ == "__main__"` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and mains)


def _parallel(call: ast.Call) -> bool:
    """Whether a batch_run call may start processes (`number_processes` is its third
    positional argument)."""
    given = [k.value for k in call.keywords if k.arg == "number_processes"]
    if not given and len(call.args) > 2:
        given = [call.args[2]]
    if not given:
        return False
    value = given[0]
    return not (isinstance(value, ast.Constant) and value.value == SERIAL)


def warn_if_unguarded() -> None:
    """In the main process of a script run from a file: warn once, naming the line, when the
    script calls batch_run with several processes outside the `__main__` guard."""
    if multiprocessing.parent_process() is not None:
        return  # a worker: the parent has already warned
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path or not str(path).endswith(".py"):
        return  # an interactive session, python -c, a notebook
    try:
        with open(path, encoding="utf-8") as fh:
            lines = unguarded_parallel_calls(fh.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return
    if lines:
        warnings.warn_explicit(
            'mesa.batch_run(..., number_processes) runs outside `if __name__ == "__main__":`;'
            " Mesa starts its workers by spawn, which runs this script again in each worker, "
            "where the call fails and the pool restarts the worker for ever: put the call under "
            "that guard",
            RuntimeWarning,
            filename=str(path),
            lineno=lines[0],
        )
