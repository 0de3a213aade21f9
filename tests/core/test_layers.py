"""The core is layered: each module imports only from its own layer or below, with no cycles,
and no import hides inside a function (docs/architecture.md draws the layers)."""
import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "embcompress"
LAYERS = [  # lowest first
    {"_version", "_faults", "_typing", "errors", "_checks", "conventions", "_files", "_paths", "_prefetch", "_exact",
     "_binary"},
    {"spec", "storage", "_validation"},
    {"_layout", "_moments", "_scoring", "_artifact", "provenance", "delta_lake"},
    {"arrow"},
    {"datasets", "protocol", "techniques", "_faiss_backend"},
    {"_pipeline"},
    {"codec"},
    {"_fitting"},
    {"drift", "evaluation", "registry", "parquet_io"},
    {"nightly", "_folders", "__init__"},
    {"recommend", "reader", "_demo"},
    {"_report"},
    {"cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(CORE).with_suffix("")
    return "__init__" if rel.parts == ("__init__",) else ".".join(p for p in rel.parts if p != "__init__")


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    assert top in LAYER, f"embcompress/{module.replace('.', '/')}.py is in no layer: add it to LAYERS"
    return LAYER[top]


def imports(path: Path):
    """``(target module, line, at module level)`` for each import of a core module in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("embcompress")):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".")[1:]
            for alias in node.names:
                candidate = ".".join(parts + [alias.name])
                exists = (CORE / (candidate.replace(".", "/") + ".py")).exists() or \
                    (CORE / candidate.replace(".", "/") / "__init__.py").exists()
                target = candidate if exists else (".".join(parts) or "__init__")
                yield target, node.lineno, id(node) in top_level
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "embcompress":
                    yield ".".join(alias.name.split(".")[1:]) or "__init__", node.lineno, id(node) in top_level


MODULES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_imports_point_down_and_sit_at_module_level(path):
    me = module_name(path)
    for target, line, top in imports(path):
        where = f"embcompress/{path.relative_to(CORE)}:{line}"
        assert top, f"{where} imports {target} inside a function: import it at module level " \
                    f"(if that makes a cycle, a layer is wrong)"
        if target.split(".")[0] == me.split(".")[0]:
            continue  # inside one package (techniques.*), checked for cycles below
        assert layer_of(target) <= layer_of(me), f"{where}: {me} (layer {layer_of(me)}) imports {target} " \
                                                 f"(layer {layer_of(target)}), which sits above it"


def test_no_import_cycles():
    graph = {module_name(p): {t for t, _, _ in imports(p) if t != module_name(p)} for p in MODULES}
    state: dict = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import cycle: " + " -> ".join(trail + [node])
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, trail + [node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])
