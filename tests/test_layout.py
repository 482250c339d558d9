"""The tree keeps its shape: private names stay inside their package, the sync
and async clients cannot drift apart, and the old import cycle stays gone."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import llmpipe
from llmpipe import LLM, AsyncLLM

PACKAGE = Path(llmpipe.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _owner(private: str) -> str:
    """The package a private dotted name belongs to: everything before its
    first ``_``-prefixed part (``llmpipe.transport._body`` -> ``llmpipe.transport``)."""
    parts = private.split(".")
    first = next(i for i, part in enumerate(parts) if part.startswith("_"))
    return ".".join(parts[:first])


def _private_imports(path: Path) -> list[tuple[int, str]]:
    """Dotted names with a ``_private`` part that ``path`` imports."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "llmpipe" and any(
                p.startswith("_") and not p.startswith("__") for p in parts
            ):
                found.append((node.lineno, name))
    return found


def test_no_module_imports_a_private_name_from_outside_its_package():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for line, name in _private_imports(path):
            owner = _owner(name)
            if not (importer == owner or importer.startswith(owner + ".")):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert offenders == []


def test_the_private_import_rule_flags_a_reach_across_packages(tmp_path):
    """The check above can fail: a module outside ``transport`` importing its
    ``_body`` is caught, one inside is not."""
    assert _owner("llmpipe.transport._body.ReplyBody") == "llmpipe.transport"
    assert _owner("llmpipe._json") == "llmpipe"
    probe = tmp_path / "probe.py"
    probe.write_text("from llmpipe.transport._body import ReplyBody\nimport llmpipe.wire\n")
    assert _private_imports(probe) == [(1, "llmpipe.transport._body.ReplyBody")]


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_llm_and_asyncllm_offer_the_same_methods_with_the_same_parameters():
    sync, async_ = _public_methods(LLM), _public_methods(AsyncLLM)
    assert sorted(sync) == sorted(async_)
    for name in sync:
        assert _parameters(sync[name]) == _parameters(async_[name]), name


def _runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The llmpipe modules ``path`` imports when it is imported: module-level
    statements only (not ``if TYPE_CHECKING:`` blocks, not imports inside functions)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path that closes it."""
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycles_among_llmpipe_modules():
    """The old cycle request -> event_stream -> classification -> request is gone,
    and no other has taken its place."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: _runtime_imports(path, set(paths)) - {name} for name, path in paths.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
