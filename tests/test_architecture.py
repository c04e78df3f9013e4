"""The shape of the code, checked: who may import whom, no import cycles, no huge modules.

These are the rules ``docs/architecture.md`` states; a change that breaks one fails here
instead of slowly eroding the layout.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("devices", "edge", "hub", "simulators", "linli", "bench")
MAX_LINES = 600
"""No module over ~600 lines: past that a module holds more than one concept."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Yield the project modules ``path`` imports, wherever in the file it imports them."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name in known)


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {
        name: {target for target in _imports(path, known) if target != name}
        for name, path in known.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("devices", ("edge", "hub", "simulators", "linli", "bench")),
        ("edge", ("hub", "simulators", "linli", "bench")),
        ("hub", ("edge", "simulators", "linli", "bench")),
        ("simulators", ("edge", "hub", "linli", "bench")),
    ],
)
def test_packages_import_only_what_they_may(package: str, forbidden: tuple[str, ...]) -> None:
    offending = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in forbidden
    )
    assert offending == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in _modules().items()
        if name.split(".")[0] in ("devices", "edge", "hub")
    }
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_the_hub_top_level_holds_the_app_settings_and_packages() -> None:
    top = sorted(path.name for path in (ROOT / "hub").glob("*.py"))
    assert top == ["__init__.py", "app.py", "errors.py", "service.py", "settings.py", "store.py"]
