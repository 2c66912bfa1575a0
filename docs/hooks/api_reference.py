"""MkDocs hook: the API reference, generated from ``spindle.__all__`` at build time.

Every public name gets an entry, so the reference cannot miss one: spindle's own objects are
rendered from their docstrings by mkdocstrings under their public name (``spindle.Task``, never
an internal module path), and the names spindle re-exports from asyncio are listed with a link
to Python's documentation.  ``GROUPS`` only orders the entries; a name it does not list still
appears, under "More".
"""

from __future__ import annotations

import inspect
from typing import Any

import spindle
import spindle.diagnostics
import spindle.testing

MARKER = "<!-- api-reference -->"

GROUPS: list[tuple[str, list[str]]] = [
    ("Running a program", ["run", "Runner", "install", "uninstall"]),
    (
        "Event loops",
        [
            "EventLoop",
            "SelectorEventLoop",
            "BaseEventLoop",
            "new_event_loop",
            "get_event_loop",
            "set_event_loop",
            "get_running_loop",
            "DefaultEventLoopPolicy",
            "Handle",
            "TimerHandle",
            "Server",
        ],
    ),
    (
        "Tasks and futures",
        [
            "Task",
            "Future",
            "create_task",
            "current_task",
            "all_tasks",
            "ensure_future",
            "eager_task_factory",
            "create_eager_task_factory",
            "isfuture",
            "iscoroutine",
            "iscoroutinefunction",
            "wrap_concurrent_future",
        ],
    ),
    (
        "Waiting and cancelling",
        [
            "sleep",
            "gather",
            "wait",
            "wait_for",
            "as_completed",
            "shield",
            "TaskGroup",
            "timeout",
            "timeout_at",
            "Timeout",
        ],
    ),
    ("Threads", ["to_thread", "run_coroutine_threadsafe", "wrap_future"]),
    ("Synchronization", ["Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier"]),
    ("Queues", ["Queue", "PriorityQueue", "LifoQueue"]),
    (
        "Streams",
        [
            "open_connection",
            "start_server",
            "open_unix_connection",
            "start_unix_server",
            "StreamReader",
            "StreamWriter",
            "StreamReaderProtocol",
        ],
    ),
    ("Subprocesses", ["create_subprocess_exec", "create_subprocess_shell"]),
    (
        "Call graphs (Python 3.14's asyncio.graph, on every supported Python)",
        [
            "capture_call_graph",
            "format_call_graph",
            "print_call_graph",
            "FutureCallGraph",
            "FrameCallGraphEntry",
            "future_add_to_awaited_by",
            "future_discard_from_awaited_by",
        ],
    ),
]

PYTHON_DOCS = "https://docs.python.org/3/library/"
# Where Python documents the names spindle re-exports, by the asyncio module that defines them.
ASYNCIO_PAGES = {
    "asyncio.exceptions": "asyncio-exceptions.html",
    "asyncio.protocols": "asyncio-protocol.html",
    "asyncio.transports": "asyncio-protocol.html",
    "asyncio.events": "asyncio-eventloop.html",
    "asyncio.unix_events": "asyncio-policy.html",
    "asyncio.base_events": "asyncio-eventloop.html",
}


def is_own(value: Any) -> bool:
    return getattr(value, "__module__", "").startswith("spindle")


def python_docs_link(name: str, value: Any) -> str:
    module = getattr(value, "__module__", "asyncio")
    if module == "builtins":  # TimeoutError is the builtin one since 3.11
        return f"{PYTHON_DOCS}exceptions.html#{name}"
    page = ASYNCIO_PAGES.get(module, "asyncio.html")
    return f"{PYTHON_DOCS}{page}#asyncio.{name}"


def entries(names: list[str]) -> list[str]:
    return [f"::: spindle.{name}\n" for name in names]


def with_members(path: str) -> str:
    """An entry with its documented public members (spindle helpers, not asyncio API)."""
    return f'::: {path}\n    options:\n      members: null\n      filters: ["!^_"]\n'


def generate() -> str:
    public = [name for name in spindle.__all__ if not name.startswith("_")]
    own = [name for name in public if is_own(getattr(spindle, name))]
    constants = [name for name in public if not callable(getattr(spindle, name))]
    reexported = [name for name in public if name not in own and name not in constants]
    placed = {name for _, names in GROUPS for name in names}
    out = ["## spindle's own\n"]
    for title, names in [*GROUPS, ("More", [n for n in own if n not in placed])]:
        present = [name for name in names if name in own]
        if present:
            out += [f"### {title}\n", *entries(present)]
    out += ["## Constants\n", "| name | value |", "|:--|:--|"]
    out += [f"| `spindle.{name}` | `{getattr(spindle, name)!r}` |" for name in constants]
    out += [
        "\n## Re-exported from asyncio\n",
        "These are asyncio's own objects (`spindle.X is asyncio.X`): interfaces that must be "
        "shared for code written for asyncio to work on spindle (see "
        "[Differences from asyncio](differences.md#what-spindle-re-exports)).\n",
        "| name | what it is |",
        "|:--|:--|",
    ]
    for name in reexported:
        value = getattr(spindle, name)
        kind = (
            "exception"
            if isinstance(value, type) and issubclass(value, BaseException)
            else ("class" if inspect.isclass(value) else "function")
        )
        owner = "Python's builtin" if value.__module__ == "builtins" else "asyncio's"
        out.append(f"| [`spindle.{name}`]({python_docs_link(name, value)}) | {owner} {kind} |")
    hooks = [name for name in spindle.__all__ if name.startswith("_")]
    out += [
        "\n## For loop implementers\n",
        "asyncio's hooks for event-loop implementations, which spindle's loop uses and "
        "re-exports as asyncio does: " + ", ".join(f"`spindle.{name}`" for name in hooks) + ".\n",
        "## spindle.testing\n",
        *[with_members(f"spindle.testing.{name}") for name in spindle.testing.__all__],
        "## spindle.diagnostics\n",
        *[with_members(f"spindle.diagnostics.{name}") for name in spindle.diagnostics.__all__],
    ]
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, generate())
