"""The README's architecture map is the package as it is: every module listed, nothing
listed that is gone, and the precedence line equal to `PRECEDENCE`."""

from __future__ import annotations

import re
from pathlib import Path

from realtime_profiles._sources import PRECEDENCE

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def _architecture() -> str:
    start = README.index("## Architecture")
    end = README.find("\n## ", start + 1)
    return README[start:] if end == -1 else README[start:end]


def test_the_module_map_lists_every_module() -> None:
    listed = set(re.findall(r"`([\w]+\.py)`", _architecture()))
    present = {p.name for p in (ROOT / "realtime_profiles").glob("*.py")}
    assert listed == present


def test_the_precedence_line_is_the_tuple() -> None:
    line = " -> ".join(spec.kind for spec in PRECEDENCE)
    assert f"\n{line}\n" in _architecture()


def test_internal_modules_are_private_and_the_public_ones_few() -> None:
    public = sorted(p.stem for p in (ROOT / "realtime_profiles").glob("[!_]*.py"))
    assert public == ["bundle", "cli", "errors", "live", "loader", "offline", "profile", "sdk",
                      "wire"]


def test_no_module_imports_a_later_one_at_import_time() -> None:
    """The map's order is the import order: a module's top-level imports (not those made on
    first use inside a function, nor type-checking ones) name only modules listed above it."""
    import ast

    order = re.findall(r"^\|[^|]+\| `([\w]+)\.py`(?:, `([\w]+)\.py`)? \|", _architecture(),
                       re.MULTILINE)
    rank: dict[str, int] = {}
    for index, names in enumerate(order):
        for name in names:
            if name:
                rank[name] = index
    later: list[str] = []
    for path in sorted((ROOT / "realtime_profiles").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:  # top level only: `if TYPE_CHECKING:` blocks are not imports
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                for target in targets:
                    name = target.split(".")[0]
                    if name in rank and rank[name] > rank[path.stem]:
                        later.append(f"{path.stem} imports {name}")
    assert later == []


def test_a_long_function_says_why_it_is_long() -> None:
    """No function is over 60 lines unless a comment right below its docstring says why
    (`# Over 60 lines because ...`)."""
    import ast

    unexplained: list[str] = []
    for path in sorted((ROOT / "realtime_profiles").glob("*.py")):
        lines = path.read_text("utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.end_lineno is not None and node.end_lineno - node.lineno + 1 > 60:
                head = "\n".join(lines[node.lineno - 1:node.lineno + 12])
                if "# Over 60 lines because" not in head:
                    unexplained.append(f"{path.name}:{node.lineno} {node.name}")
    assert unexplained == []
