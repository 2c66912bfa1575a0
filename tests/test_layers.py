"""spindle's layers import only downwards (see docs/architecture.md).

core (``_core``, ``_compat``, ``exceptions``) < I/O (``_io``) < API (``spindle/*.py``) < around
(``diagnostics``, ``testing``, ``__main__``).  A module may import from its own layer and the
layers below it; ``__init__`` modules are exempt (they only gather names).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "spindle"

CORE, IO, API, AROUND = range(4)
LAYER_NAMES = ["core", "I/O", "API", "diagnostics/testing"]


def layer_of(module: str) -> int:
    """The layer of a dotted module name inside spindle."""
    parts = module.split(".")[1:]  # drop "spindle"
    if not parts:
        return AROUND  # the package itself
    top = parts[0]
    if top in {"_core", "_compat", "exceptions"}:
        return CORE
    if top == "_io":
        return IO
    if top in {"diagnostics", "testing", "__main__"}:
        return AROUND
    return API


def spindle_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every ``spindle`` import in the file, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "spindle":
                found += [(node.lineno, f"spindle.{alias.name}") for alias in node.names]
            elif node.module.startswith("spindle."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("spindle.")]
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(relative.parts)


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_from_its_layer_or_below(path: Path) -> None:
    own = layer_of(module_name(path))
    upward = [
        f"line {line}: {target} ({LAYER_NAMES[layer_of(target)]})"
        for line, target in spindle_imports(path)
        if layer_of(target) > own
    ]
    assert not upward, f"{LAYER_NAMES[own]} module imports from a higher layer: {upward}"
