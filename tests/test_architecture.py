from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

from jobs.settings import PROJECT_ROOT


def _package_of(module: str) -> str | None:
    """``jobs.integrate.build`` → ``integrate``; ``jobs.settings`` → ``settings``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jobs" and len(parts) > 1 else None


def _module_name(path: Path, project: Path) -> str:
    relative = path.relative_to(project).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _imported_modules(path: Path, project: Path = PROJECT_ROOT) -> Iterator[str]:
    """Every module ``path`` imports, at module top, inside functions or under TYPE_CHECKING."""
    module = _module_name(path, project)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


#: A package's command-line module is an edge, like a DAG file: it wires the package to the
#: others (the audit log's ``purge`` asks the store who signs it) and nothing but ``jobs/cli.py``
#: imports it (:func:`test_only_the_cli_imports_command_modules`), so it adds no edge between
#: the packages' cores, and the layering is checked without it.
EDGE_MODULES = ("commands.py",)


def package_imports(project: Path = PROJECT_ROOT) -> dict[str, dict[str, list[str]]]:
    """Package of ``jobs/`` → package it imports → the files that import it (top-level modules
    such as ``jobs/settings.py`` count as packages of their own; edge modules do not count)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted((project / "jobs").rglob("*.py")):
        if path.name in EDGE_MODULES:
            continue
        source = _package_of(_module_name(path, project))
        for imported in _imported_modules(path, project):
            target = _package_of(imported)
            if source and target and target != source:
                files = graph.setdefault(source, {}).setdefault(target, [])
                where = str(path.relative_to(project))
                if where not in files:
                    files.append(where)
    return graph


def package_cycles(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """One cycle (``[a, b, a]``) per group of packages that import each other (Tarjan's
    strongly connected components), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_through(graph, group) for group in groups)


def _cycle_through(graph: Mapping[str, Mapping[str, object]], group: list[str]) -> list[str]:
    """A shortest cycle from the group's first package back to itself, inside the group."""
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, {})):
                if target == start:
                    return [*paths[node], start]
                if target in group and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {group}")  # a component always has one


def _describe(graph: Mapping[str, Mapping[str, list[str]]], cycle: list[str]) -> str:
    steps = [f"  {a} → {b} ({', '.join(graph[a][b])})" for a, b in itertools.pairwise(cycle)]
    return " → ".join(cycle) + "\n" + "\n".join(steps)


def test_packages_of_jobs_import_each_other_without_cycles():
    graph = package_imports()
    cycles = package_cycles(graph)
    assert cycles == [], "packages in a cycle:\n" + "\n".join(_describe(graph, c) for c in cycles)


def _imports_an_edge_module(path: Path) -> bool:
    """``import jobs.x.commands``, ``from jobs.x.commands import f`` or ``from jobs.x import
    commands`` (relative forms included)."""
    edges = {name.removesuffix(".py") for name in EDGE_MODULES}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [f"{node.module}.{m}" for m in modules] + [node.module]
            if any(m.rpartition(".")[2] in edges for m in modules):
                return True
    return False


def test_only_the_cli_imports_command_modules(tmp_path):
    importers = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "jobs").rglob("*.py")
        if path.name != "cli.py" and _imports_an_edge_module(path)
    )
    assert importers == []
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from jobs.audit import commands\n")
    assert _imports_an_edge_module(sneaky)


def test_cycle_finder_names_the_packages_of_a_cycle():
    graph = {"a": {"b": []}, "b": {"c": [], "d": []}, "c": {"a": []}, "d": {}, "e": {"a": []}}
    assert package_cycles(graph) == [["a", "b", "c", "a"]]


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    (tmp_path / "jobs" / "one").mkdir(parents=True)
    (tmp_path / "jobs" / "two").mkdir()
    (tmp_path / "jobs" / "one" / "lazy.py").write_text("def f():\n    from jobs.two import x\n")
    (tmp_path / "jobs" / "two" / "rel.py").write_text("from ..one import lazy\n")

    assert package_imports(tmp_path) == {
        "one": {"two": ["jobs/one/lazy.py"]},
        "two": {"one": ["jobs/two/rel.py"]},
    }
    assert package_cycles(package_imports(tmp_path)) == [["one", "two", "one"]]
