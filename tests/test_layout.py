"""The package's folders show its architecture: every subpackage imports only those below it, and no module
imports itself back through others (no import cycle), counting imports made inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"ppl_vae": ROOT / "ppl_vae", "ppl_vae.models": ROOT / "models", "ppl_vae.guides": ROOT / "guides"}
LAYERS = [
    ["core"],
    ["data", "networks"],
    ["models", "guides"],
    ["infer"],
    ["train", "evaluation"],
    ["report"],
    ["runs"],
    ["commands"],
    ["cli"],
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != "ppl_vae":
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_subpackage_is_placed_and_says_what_it_holds():
    folders = {p.name for p in (ROOT / "ppl_vae").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders | {"models", "guides"} == set(RANK)
    for folder in folders:
        text = ast.get_docstring(ast.parse((ROOT / "ppl_vae" / folder / "__init__.py").read_text()))
        assert text and len(text) > 200, f"ppl_vae/{folder}/__init__.py needs a docstring that says what lives there"
    top = {p.name for p in (ROOT / "ppl_vae").iterdir() if p.suffix == ".py"}
    assert top == {"__init__.py", "__main__.py"}


def test_every_import_runs_down_the_layers():
    upward = []
    for module, targets in graph().items():
        here = subpackage(module)
        for target in targets:
            there = subpackage(target)
            if here and there and here != there and RANK[there] >= RANK[here]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that run up or across the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    edges = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
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
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert not cycles, f"modules that import each other: {cycles}"


@pytest.mark.parametrize("layer", ["core.registry", "core.config", "core.errors", "core.plugins"])
def test_the_fast_modules_import_neither_torch_nor_pyro(layer):
    text = (ROOT / "ppl_vae" / f"{layer.replace('.', '/')}.py").read_text()
    names = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {
        (node.module or "").split(".")[0] for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ImportFrom)
    }
    assert not names & {"torch", "pyro"}
