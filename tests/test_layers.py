"""spindle's layers, and the rooms inside them, import only downwards (docs/architecture.md).

core (``_core``, ``_compat``, ``exceptions``) < I/O (``_io``) < API (``spindle/*.py``) < around
(``diagnostics``, ``testing``, ``__main__``).  A module may import from its own layer and the
layers below it; ``__init__`` modules are exempt (they only gather names).

Inside the I/O floor and the streams package the rooms have an order of their own (``ROOMS``),
TLS has one door, no import cycle runs through them, and the loop lists every facility it is
made of as a base.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import spindle._io.loop
from spindle._io.readiness import ReadinessLoop

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


# -- rooms inside a layer ----------------------------------------------------------------------

# For each package: the rank of each of its rooms (a module, or a folder of modules).  A module
# may import from its own room and from rooms of a lower rank; rooms of one rank are siblings
# and do not import each other.  Every room must be listed: a new file is placed on purpose.
ROOMS: dict[str, dict[str, int]] = {
    "spindle._io": {
        "poller": 0, "waker": 0, "resolve": 0, "contract": 0, "offload": 0,
        "readiness": 1,
        "sock_sendfile": 2, "signals": 2,
        "sockets": 3,
        "transports": 4,
        "tls": 5, "subprocess": 5,
        "connect": 6,
        "loop": 7,
    },
    "spindle._io.transports": {
        "policy": 0,
        "base": 1,
        "reading": 2,
        "writable": 3,
        "write_buffer": 4,
        "stream_socket": 5, "datagram_socket": 5, "pipes": 5,
        "faces": 6,
    },
    "spindle._io.tls": {
        "engine": 0, "states": 0, "arguments": 0,
        "transport": 1,
        "app_end": 2,
        "protocol": 3,
        "start_tls": 4,
    },
    "spindle._io.subprocess": {"child_watcher": 0, "transport": 1, "methods": 2},
    "spindle._io.connect": {
        "happy_eyeballs": 0, "listeners": 0,
        "connections": 1, "servers": 1, "datagram_endpoints": 1, "sendfile": 1,
        "methods": 2,
    },
    "spindle.streams": {
        "reader": 0, "flow_control": 0,
        "writer": 1,
        "protocol": 2,
        "connections": 3,
    },
}  # fmt: skip

# Packages whose face (``__init__``) is the only way in from outside them.
ONE_DOOR = ("spindle._io.tls",)


def is_module(name: str) -> bool:
    """Whether the dotted ``name`` is a module or package of spindle's source tree."""
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every spindle module the file imports, at any depth (``TYPE_CHECKING`` blocks too).

    ``from package import name`` counts as an import of ``package.name`` when that is a module.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "spindle":
                continue
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "spindle"}
    return found


def room_of(module: str, package: str) -> str | None:
    """The room of ``package`` that ``module`` is in; None outside it; "" for its face."""
    if module == package:
        return ""
    if not module.startswith(package + "."):
        return None
    return module[len(package) + 1 :].split(".")[0]


def room_order_breaks(module: str, targets: set[str]) -> list[str]:
    """What in ``module``'s imports breaks the order of ``ROOMS``."""
    breaks = []
    for package, ranks in ROOMS.items():
        own = room_of(module, package)
        if not own:
            continue
        if own not in ranks:
            breaks.append(f"{module} is in room {own!r} of {package}, which ROOMS does not place")
            continue
        for target in sorted(targets):
            room = room_of(target, package)
            if room is None or room == own:
                continue
            if room == "":
                breaks.append(f"{module} imports its own package's face {package}")
            elif room not in ranks:
                breaks.append(f"{module} imports {target}, in a room ROOMS does not place")
            elif ranks[room] >= ranks[own]:
                breaks.append(
                    f"{module} (room {own!r}, rank {ranks[own]}) imports {target} "
                    f"(room {room!r}, rank {ranks[room]}) of {package}"
                )
    return breaks


ROOMED = [p for p in MODULES if any(room_of(module_name(p), pkg) for pkg in ROOMS)]


@pytest.mark.parametrize("path", ROOMED, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_from_its_room_or_lower_rooms(path: Path) -> None:
    breaks = room_order_breaks(module_name(path), imported_modules(path))
    assert not breaks, breaks


@pytest.mark.parametrize(
    ("module", "targets", "broken"),
    [
        ("spindle._io.transports.base", {"spindle._io.poller"}, False),
        ("spindle._io.transports.base", {"spindle._io.connect.servers"}, True),  # upward
        ("spindle._io.tls.protocol", {"spindle._io.subprocess.transport"}, True),  # a sibling
        ("spindle._io.tls.engine", {"spindle._io.tls"}, True),  # its own package's face
        ("spindle._io.tls.transport", {"spindle._io.tls.engine"}, False),
        ("spindle._io.tls.engine", {"spindle._io.tls.transport"}, True),
        ("spindle._io.connect.methods", {"spindle._io.tls", "spindle._io.sockets"}, False),
        ("spindle._io.newcomer", set(), True),  # a room nobody placed
        ("spindle.streams.reader", {"spindle.streams.writer"}, True),
        ("spindle.streams.connections", {"spindle.streams.reader", "spindle.tasks"}, False),
    ],
)
def test_the_room_order_check_catches_what_it_should(
    module: str, targets: set[str], broken: bool
) -> None:
    assert bool(room_order_breaks(module, targets)) is broken


def test_every_placed_room_exists() -> None:
    missing = [
        f"{package}.{room}"
        for package, ranks in ROOMS.items()
        for room in ranks
        if not is_module(f"{package}.{room}")
    ]
    assert not missing, f"ROOMS places rooms that do not exist: {missing}"


def side_doors(module: str, targets: set[str]) -> list[str]:
    """The modules of a ``ONE_DOOR`` package that ``module``, from outside it, imports."""
    return sorted(
        target
        for target in targets
        for package in ONE_DOOR
        if room_of(target, package) and room_of(module, package) is None
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_a_one_door_package_is_entered_through_its_face(path: Path) -> None:
    module = module_name(path)
    assert not side_doors(module, imported_modules(path)), f"{module} goes around {ONE_DOOR}"


@pytest.mark.parametrize(
    ("module", "targets", "doors"),
    [
        ("spindle._io.connect.servers", {"spindle._io.tls"}, []),
        ("spindle._io.connect.servers", {"spindle._io.tls.protocol"}, ["spindle._io.tls.protocol"]),
        ("spindle._io.tls.protocol", {"spindle._io.tls.engine"}, []),  # inside: any module
    ],
)
def test_the_door_check_catches_side_doors(
    module: str, targets: set[str], doors: list[str]
) -> None:
    assert side_doors(module, targets) == doors


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the modules it imports, for every module inside ``packages``."""
    graph = {}
    for path in SRC.rglob("*.py"):
        module = module_name(path)
        if module.endswith(".__init__"):
            module = module.removesuffix(".__init__")
        if any(room_of(module, package) is not None for package in packages):
            graph[module] = {t for t in imported_modules(path) if t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected group of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
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
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_runs_through_the_io_floor_or_the_streams() -> None:
    graph = import_graph(("spindle._io", "spindle.streams"))
    assert len(graph) > 40  # the whole floor was read
    assert not cycles(graph)


def test_the_event_loop_lists_every_facility_it_is_made_of() -> None:
    """A facility is a class of the I/O floor that extends ``ReadinessLoop``; each is one of
    ``EventLoop``'s own bases, none arrives only through another."""
    event_loop = spindle._io.loop.EventLoop
    facilities = {
        cls
        for cls in event_loop.__mro__
        if cls.__module__.startswith("spindle._io.") and issubclass(cls, ReadinessLoop)
        and cls is not event_loop
    }
    assert len(facilities) >= 6
    # Then asyncio.AbstractEventLoop, last, for isinstance checks (spindle's own loop classes
    # do not derive from it: see spindle._core.scheduler).
    assert event_loop.__bases__[-1] is asyncio.AbstractEventLoop
    assert facilities == set(event_loop.__bases__[:-1])
