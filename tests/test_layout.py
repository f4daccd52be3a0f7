"""The architecture, checked from the imports: no cycle anywhere in `src/`, no library module
importing command-line code, `ssd_resnet50`'s layers pointing one way, and the two products
kept apart (`mindspore_hub` never imports `ssd_resnet50`; `ssd_resnet50` uses `mindspore_hub`
only in its command line).

Every import counts, those inside functions too: a lazy import is still a dependency.
"""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# ssd_resnet50's layers, bottom up: a module may import its own layer or a lower one. Peers
# (inference and training) may use each other as long as no cycle forms.
LAYERS = {
    "mindspore_versions": 0, "model": 0,
    "backends": 1,
    "inference": 2, "training": 2,
    "evaluate": 3, "export": 3, "optimize": 3, "serving": 3,
    "": 4,  # the package itself: the public API
    "cli": 5, "__main__": 6,
}


def module_names(root: Path) -> dict:
    """{dotted module name: file} for every .py below `root` (packages by their __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict:
    """{module: set of modules of `root` it imports}, from the source text alone."""
    modules = module_names(root)
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from pkg import name` the package
                candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                              for alias in node.names]
            else:
                continue
            for candidate in candidates:
                while candidate and candidate not in modules:  # `import a.b.c` -> the longest known prefix
                    candidate = candidate.rpartition(".")[0]
                if candidate and candidate != name:
                    targets.add(candidate)
        graph[name] = targets
    return graph


def find_cycle(graph: dict):
    """One import cycle as a list of modules [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def is_command_line(module: str) -> bool:
    parts = module.split(".")
    return "cli" in parts or parts[-1] == "__main__"


def imports_of_command_line(graph: dict) -> list:
    """(importer, imported) pairs where library code imports command-line code."""
    return sorted((source, target) for source, targets in graph.items() if not is_command_line(source)
                  for target in targets if is_command_line(target))


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def upward_imports(graph: dict) -> list:
    """(importer, imported) pairs inside ssd_resnet50 that point up its layers."""
    return sorted((source, target) for source, targets in graph.items() if source.startswith("ssd_resnet50")
                  for target in targets if target.startswith("ssd_resnet50") and layer_of(target) > layer_of(source))


@pytest.fixture(scope="module")
def graph():
    return import_graph(SRC)


def test_src_has_no_import_cycle(graph):
    assert len(graph) > 40  # the parser found the project's modules
    assert find_cycle(graph) is None


def test_library_code_never_imports_the_command_line(graph):
    assert "ssd_resnet50.cli" in graph["ssd_resnet50.__main__"]  # the check sees such imports
    assert imports_of_command_line(graph) == []


def test_ssd_resnet50_layers_point_one_way(graph):
    unknown = {module.split(".")[1] for module in graph if module.startswith("ssd_resnet50.")} - set(LAYERS)
    assert not unknown, f"give these sub-packages a layer in LAYERS: {sorted(unknown)}"
    assert upward_imports(graph) == []


def test_the_loader_and_the_model_stay_apart(graph):
    assert not [(s, t) for s, ts in graph.items() if s.startswith("mindspore_hub") for t in ts
                if t.startswith("ssd_resnet50")]
    outside_cli = [(s, t) for s, ts in graph.items() if s.startswith("ssd_resnet50") and not is_command_line(s)
                   for t in ts if t.startswith("mindspore_hub")]
    assert outside_cli == []


def write_package(root: Path, files: dict) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_a_cycle_and_a_library_importing_cli(tmp_path):
    root = write_package(tmp_path, {
        "pkg/__init__.py": "from .a import thing\n",
        "pkg/a.py": "from . import b\nthing = 1\n",
        "pkg/b.py": "def later():\n    from .c import helper\n",  # a lazy import closes the cycle
        "pkg/c.py": "import pkg.a\nhelper = 2\n",
        "pkg/cli/__init__.py": "from ..a import thing\n",
        "pkg/report.py": "from pkg.cli import main\n",
    })
    graph = import_graph(root)
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    assert imports_of_command_line(graph) == [("pkg.report", "pkg.cli")]

    (root / "pkg/c.py").write_text("helper = 2\n")  # break the cycle; the parent import stays harmless
    assert find_cycle(import_graph(root)) is None


def test_the_layer_check_catches_an_upward_import(tmp_path):
    root = write_package(tmp_path, {
        "ssd_resnet50/__init__.py": "",
        "ssd_resnet50/model/__init__.py": "",
        "ssd_resnet50/model/network.py": "from ..inference.detector import Detector\n",
        "ssd_resnet50/inference/__init__.py": "",
        "ssd_resnet50/inference/detector.py": "from ssd_resnet50.model import network\n",
    })
    graph = import_graph(root)
    assert upward_imports(graph) == [("ssd_resnet50.model.network", "ssd_resnet50.inference.detector")]
    assert find_cycle(graph) == ["ssd_resnet50.inference.detector", "ssd_resnet50.model.network",
                                 "ssd_resnet50.inference.detector"]
