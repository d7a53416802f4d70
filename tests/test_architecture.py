"""The package's shape, read from its source with ``ast``: no import cycle, dependencies pointing one way
between the declared layers, the config schema a leaf, and every import inside a function explained."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ganbench"

# Lowest first. A module belongs to the layer of its longest matching prefix; it may import its own layer
# and the ones below at run time, and a higher layer only under TYPE_CHECKING.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Leaves. The config schema and value checks are here, but importing them at run time would run
    # ganbench/config/__init__ (the loader, two layers up), so components name config types under TYPE_CHECKING.
    ("ganbench", "ganbench.errors", "ganbench.registry", "ganbench.resources", "ganbench.config.schema",
     "ganbench.config.values"),
    ("ganbench.data", "ganbench.models", "ganbench.gan", "ganbench.metrics"),  # components, by registry
    ("ganbench.config",),  # the loader: defaults and validation against the components' registries
    ("ganbench.training",),
    ("ganbench.tracking",),
    ("ganbench.sweep", "ganbench.report"),
    ("ganbench.cli", "ganbench.__main__"),
)
# Imports inside functions that remain, each with a comment saying why (start-up time, mostly).
MAX_FUNCTION_IMPORTS = 60


@dataclass(frozen=True)
class Import:
    source: str          # importing module
    target: str          # imported ganbench module
    line: int
    in_function: bool
    text: str


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes |= {id(sub) for sub in ast.walk(node)}
    return nodes


def _function_nodes(tree: ast.Module) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes |= {id(sub) for sub in ast.walk(node) if sub is not node}
    return nodes


def _targets(source: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The ganbench modules an import statement runs: the module, its submodules named in a ``from``, and the
    packages above it that the importer is not already inside (their ``__init__`` runs too)."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        assert node.level == 0, f"{source}: relative import"
        submodules = [f"{node.module}.{alias.name}" for alias in node.names]
        # ``from ganbench.metrics import fidelity`` inside ganbench.metrics needs only the submodule: the
        # package's __init__ is already running. Any other name comes from the __init__ itself.
        within = source.startswith(f"{node.module}.")
        named = submodules if within and all(m in MODULES for m in submodules) else [node.module or "", *submodules]
    for name in named:
        if name not in MODULES:
            continue
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            inside = source == prefix or source.startswith(prefix + ".")
            if prefix in MODULES and (prefix == name or not inside) and prefix != source:
                yield prefix


def imports() -> list[Import]:
    found = []
    for source, path in MODULES.items():
        text = path.read_text()
        tree = ast.parse(text)
        type_only, in_function = _type_checking_nodes(tree), _function_nodes(tree)
        lines = text.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in type_only:
                continue
            # A function-level import of a third-party module counts too (it is what start-up time is about).
            if id(node) in in_function:
                found.append(Import(source, "", node.lineno, True, "\n".join(lines[node.lineno - 2:node.lineno])))
            for target in dict.fromkeys(_targets(source, node)):
                found.append(Import(source, target, node.lineno, id(node) in in_function, ""))
    return found


IMPORTS = imports()


def layer_of(module: str) -> int:
    best, index = "", -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, i
    return index


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) < 0] == []


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for edge in IMPORTS:
        if edge.target:
            graph[edge.source].add(edge.target)
    # Tarjan's strongly connected components: any with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_dependencies_point_down() -> None:
    upward = [f"{e.source}:{e.line} imports {e.target}" for e in IMPORTS
              if e.target and layer_of(e.target) > layer_of(e.source)]
    assert upward == []


def test_config_schema_is_a_leaf() -> None:
    assert [e.target for e in IMPORTS if e.source == "ganbench.config.schema" and e.target] == []
    assert {e.target for e in IMPORTS if e.source == "ganbench.config.values" and e.target} <= {"ganbench.errors"}


def test_only_the_config_loader_imports_registries_within_config() -> None:
    components = LAYERS[1]
    importers = {e.source for e in IMPORTS if e.target and e.source.startswith("ganbench.config")
                 and any(e.target == p or e.target.startswith(p + ".") for p in components)}
    assert importers <= {"ganbench.config.loading", "ganbench.config.validation"}


def test_imports_inside_functions_are_few_and_explained() -> None:
    inner = [e for e in IMPORTS if e.in_function and not e.target]
    unexplained = [f"{e.source}:{e.line}" for e in inner if "#" not in e.text]
    assert unexplained == []
    assert len(inner) <= MAX_FUNCTION_IMPORTS


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items() if p.name == "__init__.py"
                                           and m != "ganbench"))
def test_subpackages_state_their_public_surface(package: str) -> None:
    tree = ast.parse(MODULES[package].read_text())
    names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
    assert "__all__" in names, f"{package}/__init__.py has no __all__"
    assert ast.get_docstring(tree), f"{package}/__init__.py says nothing about its layer"


def test_top_level_holds_few_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_tests_import_no_private_names() -> None:
    private = []
    for path in Path(__file__).resolve().parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganbench"):
                private += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                            if a.name.startswith("_") and not a.name.endswith("__")]
    assert private == []


# --- one owner per rule ------------------------------------------------------------------------------------------

SOURCES = {module: (path, ast.parse(path.read_text())) for module, path in MODULES.items()}
DIRECTION_OWNER = "ganbench.metrics.keys"  # Direction: the one place "min" and "max" are told apart
# Not yet moved to Direction, in a module owned elsewhere: the loop's checkpoint selection (``direction_of(...)``
# returns a Direction, a str enum, so this comparison still holds).
DIRECTION_EXCEPTIONS = {"ganbench.training.loop"}
RECORD_OWNERS = {"ganbench.tracking.record", "ganbench.tracking.store"}  # the record's codec and the MLflow adapter
ADAPTERS = {"ray": ("ganbench.sweep.ray_cluster", "ganbench.sweep.tuner"), "optuna": ("ganbench.sweep.tuner",),
            "mlflow": ("ganbench.tracking.store",), "torch_fidelity": ("ganbench.metrics.fidelity",)}


def _is_direction(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in ("min", "max")


def direction_rules(tree: ast.Module) -> list[int]:
    """Lines comparing a value with "min"/"max", or flipping between the builtins ``min`` and ``max``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            compared = any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops) and any(map(_is_direction, operands))
            member = any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) and any(
                isinstance(o, (ast.Tuple, ast.List, ast.Set)) and any(map(_is_direction, o.elts)) for o in operands)
            if compared or member:
                lines.append(node.lineno)
        if isinstance(node, ast.IfExp) and {getattr(node.body, "id", None), getattr(node.orelse, "id", None)} == {
                "min", "max"}:
            lines.append(node.lineno)
    return sorted(lines)


def test_which_way_is_better_is_decided_in_one_place():
    found = [f"{module}:{line}" for module, (_, tree) in SOURCES.items()
             if module != DIRECTION_OWNER and module not in DIRECTION_EXCEPTIONS for line in direction_rules(tree)]
    assert found == []


def test_the_direction_check_finds_a_hand_written_flip():
    flips = ast.parse('sign = 1 if mode == "min" else -1\npick = min if up else max\nok = mode in ("min", "max")\n'
                      'fine = "min" in meta\n')
    assert direction_rules(flips) == [1, 2, 3]


def tag_access(tree: ast.Module) -> list[int]:
    """Lines that read a run's tags or build a filter on them: what only the record's codec should do."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "tags" and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "data":
            lines.append(node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "tags." in node.value:
            lines.append(node.lineno)
    return sorted(lines)


def test_only_the_record_names_a_runs_tags():
    found = [f"{module}:{line}" for module, (_, tree) in SOURCES.items() if module not in RECORD_OWNERS
             for line in tag_access(tree)]
    assert found == []
    # ... and how a trial ended is decided by the judge: nothing else builds an Outcome from a result.
    derived = [f"{module}:{node.lineno}" for module, (_, tree) in SOURCES.items()
               if module not in ("ganbench.sweep.judge", "ganbench.tracking.record")
               for node in ast.walk(tree) if isinstance(node, ast.IfExp)
               and "Outcome." in ast.unparse(node.body) and "Outcome." in ast.unparse(node.orelse)]
    assert derived == []


def test_the_tag_check_finds_a_literal_read():
    assert tag_access(ast.parse('seed = run.data.tags.get("seed")\nq = f"tags.study = {s}"\n')) == [1, 2]


def _imported_roots(tree: ast.Module) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_third_party_apis_stay_in_their_adapters(library):
    outside = [module for module, (_, tree) in SOURCES.items() if library in _imported_roots(tree)
               and not any(module == a or module.startswith(a + ".") for a in ADAPTERS[library])]
    assert outside == []


def test_the_report_reaches_mlflow_only_through_tracking():
    client = [f"{module}:{node.lineno}" for module, (_, tree) in SOURCES.items()
              if module.startswith("ganbench.report") for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr == "client"]
    assert client == []
