"""The RQ-compatible API's boundaries: the Celery internals it relies on still exist in the pinned Celery (each
check names its internal), only celery_adapter.py touches them, and the package is self-contained with no
import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

from app.tasks.rq_compat.celery_adapter import INTERNALS

PACKAGE = "app.tasks.rq_compat"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / "app" / "tasks" / "rq_compat"
ADAPTER = f"{PACKAGE}.celery_adapter"
# Celery's public API, usable anywhere in the package; everything else of Celery's goes through the adapter.
PUBLIC_CELERY = {"celery", "celery.exceptions"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """Every import the project's code makes at run time (imports under TYPE_CHECKING are left out)."""
    return grimp.build_graph("app", include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None)


@pytest.fixture(scope="module")
def typing_graph() -> grimp.ImportGraph:
    """The same, with the imports made only for type checking."""
    return grimp.build_graph("app", include_external_packages=True, cache_dir=None)


def package_modules(graph: grimp.ImportGraph) -> set[str]:
    """The package's own modules."""
    return {PACKAGE} | graph.find_descendants(PACKAGE)


@pytest.mark.parametrize("internal, check", INTERNALS, ids=[name for name, _ in INTERNALS])
def test_it_finds_each_celery_internal_it_relies_on(internal, check):
    try:
        present = check()
    except Exception as exc:  # a missing attribute or module is the same news as a failed check
        pytest.fail(f"the pinned Celery changed an internal the RQ-compatible API uses: {internal} ({exc!r})")
    assert present, f"the pinned Celery changed an internal the RQ-compatible API uses: {internal}"


def test_it_uses_celery_internals_only_in_the_adapter(graph):
    for module in sorted(package_modules(graph) - {ADAPTER}):
        imported = {name for name in graph.find_modules_directly_imported_by(module) if name.startswith("celery")}
        assert imported <= PUBLIC_CELERY, f"{module} imports Celery internals {imported - PUBLIC_CELERY}"
        filename = "__init__" if module == PACKAGE else module.rpartition(".")[2]
        source = (PACKAGE_DIR / f"{filename}.py").read_text()
        for name in ("__trace__", "_already_revoked", "_already_cancelled", "._tasks", "._app", ".strategies"):
            assert name not in source, f"{module} uses the Celery internal {name}: keep it in celery_adapter.py"


@pytest.mark.parametrize("which", ["graph", "typing_graph"])
def test_it_imports_nothing_from_the_rest_of_the_project(which, request):
    graph = request.getfixturevalue(which)
    for module in sorted(package_modules(graph)):
        outside = {
            name
            for name in graph.find_modules_directly_imported_by(module)
            if name.split(".")[0] in ("app", "flask", "celeryconfig") and not name.startswith(PACKAGE)
        }
        assert not outside, f"{module} imports {outside}: the RQ-compatible API must stay self-contained"


def test_it_has_no_import_cycle(graph):
    modules = package_modules(graph)
    edges = {module: graph.find_modules_directly_imported_by(module) & modules for module in modules}
    for module in sorted(modules):
        for imported in sorted(edges[module]):
            assert module not in _reachable(imported, edges), f"import cycle: {module} -> {imported} -> ... -> {module}"


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every module `start` imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        for imported in edges[todo.pop()] - seen:
            seen.add(imported)
            todo.append(imported)
    return seen


def test_it_imports_at_module_level_only():
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body} | _type_checking_imports(tree)
        local = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top_level
        ]
        assert not local, f"{path.name} imports inside functions at lines {local}"


def _type_checking_imports(tree: ast.Module) -> set[int]:
    """The imports under a module-level `if TYPE_CHECKING:`."""
    blocks = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    return {id(child) for block in blocks for child in block.body}
