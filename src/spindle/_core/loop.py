"""``BaseLoop``: spindle's implementation of ``asyncio.AbstractEventLoop``, minus I/O.

The scheduler (``scheduler.Scheduler``) runs callbacks and timers; this module adds what a loop
does with them: futures and tasks (with the task factory), running (``run_forever``,
``run_until_complete``, ``stop``, ``close``), async generators (their hooks and
``shutdown_asyncgens``), and threads (``run_in_executor`` and the default executor).
The I/O layer (``spindle._io``) builds on this class.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dis
import sys
import threading
import types
import warnings
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Final, TypeVar, TypeVarTuple, Unpack

from spindle import _compat
from spindle._core import tasks
from spindle._core.build import COMPILED
from spindle._core.clock import Clock
from spindle._core.faces import Future
from spindle._core.futures import FutureCore, isfuture, wrap_concurrent_future
from spindle._core.handles import RUNTIME_FILES, Handle
from spindle._core.native import mypyc_attr
from spindle._core.scheduler import LoopState, Scheduler, logger
from spindle._core.taskcore import TaskCore, forget_tasks_of
from spindle._core.taskcore import _hooks as taskcore_hooks
from spindle._core.timers import refuse_nan

__all__ = ["BaseLoop"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# run() gives the default executor this long to finish its work (asyncio's constant).
EXECUTOR_SHUTDOWN_TIMEOUT: Final = 300.0

_getframe: Final = sys._getframe
# The allocators of the native halves, not the classes' own ``__new__`` (which, compiled, set
# the finalizer's flags first: see faces.Future.__new__); create_future and create_task set
# them first thing.
_allocate_future: Final = FutureCore.__new__
# Final: compiled, a static read directly (a plain global is a dict look-up per use).
_Future: Final = Future
_Task: Final = tasks.Task
_allocate_task: Final = TaskCore.__new__


# A loop's register of live async generators sweeps out the dead when it has grown to twice
# what the last sweep left, and not below this.
_FIRST_SWEEP: Final = 64


class LiveAsyncGenerators:
    """The async generators first iterated on a loop, for ``shutdown_asyncgens()`` to close.

    FAST PATH: stands for the ``weakref.WeakSet`` asyncio's loop keeps (``add``, ``discard``,
    and a list of the live ones at shutdown).  The loop's firstiter hook adds every async
    generator a program makes; a WeakSet's ``add`` and the weak reference's callback that
    removes the generator at its death are two interpreted calls, some 3.5 thousand
    instructions a generator (12% of pyperformance's ``async_generators``).  Here each
    generator gets a weak reference without a callback (the interpreter keeps one such
    reference per object), in a dict under ``id(generator)``: nothing runs when a generator
    dies, a new generator at a dead one's address takes its entry over, and the entries of the
    other dead ones go in a sweep once the dict has doubled since the last.  (A set of the weak
    references would not do: dead references keep their object's hash, and generators made
    and dropped in turn reuse a few addresses, so one hash collects dead references that each
    add must step past.)  Held to a WeakSet by ``tests/core/test_fast_paths.py``.
    """

    __slots__ = ("_refs", "_sweep_at")

    def __init__(self) -> None:
        # An id belongs to one live object: the entry under a live generator's id is its own
        # weak reference, or the dead one of an object that had that address before it.
        self._refs: dict[int, weakref.ref[AsyncGenerator[Any, Any]]] = {}
        self._sweep_at = _FIRST_SWEEP

    def add(self, agen: AsyncGenerator[Any, Any]) -> None:
        refs = self._refs
        refs[id(agen)] = weakref.ref(agen)
        if len(refs) >= self._sweep_at:
            self._sweep()

    def discard(self, agen: AsyncGenerator[Any, Any]) -> None:
        # Called by the finalizer hook, possibly in another thread: one step of the dict.
        self._refs.pop(id(agen), None)

    def live(self) -> list[AsyncGenerator[Any, Any]]:
        """The generators still alive (in no set order, as a WeakSet's)."""
        agens = []
        for ref in list(self._refs.values()):
            agen = ref()
            if agen is not None:
                agens.append(agen)
        return agens

    def clear(self) -> None:
        self._refs.clear()

    def _sweep(self) -> None:
        refs = self._refs
        for key, ref in list(refs.items()):  # a copy: the finalizer hook may pop meanwhile
            if ref() is None:
                refs.pop(key, None)
        self._sweep_at = max(2 * len(refs), _FIRST_SWEEP)


def _stop_loop_when_done(fut: Any) -> None:
    """Done-callback of run_until_complete's future."""
    if not fut.cancelled() and isinstance(fut.exception(), (SystemExit, KeyboardInterrupt)):
        return  # the step that raised it is unwinding run_forever already
    fut.get_loop().stop()


@mypyc_attr(allow_interpreted_subclasses=True)
class BaseLoop(Scheduler):
    """Tasks, the loop's lifecycle, async generators and threads."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self._track_task_origins = False
        self._task_factory: Callable[..., Any] | None = None
        self._default_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_shutdown_called = False
        self._asyncgens = LiveAsyncGenerators()
        self._asyncgens_shutdown_called = False

    # -- futures and tasks ---------------------------------------------------------------

    def create_future(self) -> asyncio.Future[Any]:
        # spindle's Future speaks asyncio's protocol but is not asyncio's class; the
        # ignore tells the type checker so, at no run-time cost (this is a hot path).
        # FAST PATH: Future(loop=self), in two calls that skip the keyword parsing of a
        # call through the class: allocate, then FutureCore's fields set directly (a C call
        # in the compiled build), with this loop as the scheduler it is.
        # tests/core/test_fast_paths.py holds it to the plain call.
        future = _allocate_future(_Future)
        FutureCore._init_future(future, self, self)
        return future  # type: ignore[return-value]

    def create_task(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        """Wrap ``coro`` in a task (through the task factory, if one is set)."""
        if self._state is LoopState.CLOSED:
            self._check_closed("create a task")
        if self._task_factory is None:
            # FAST PATH: tasks.Task(coro, loop=self, name=name, context=context), in two
            # calls that skip the keyword parsing of a call through the class: allocate, then
            # TaskCore's fields set directly (a C call in the compiled build), with this loop
            # as the scheduler it is.  tests/core/test_fast_paths.py holds it to the plain call.
            task: Any = _allocate_task(_Task)
            TaskCore._init_task(task, coro, self, self, name, context, False)
        else:
            if context is None:
                task = self._task_factory(self, coro)
            else:
                task = self._task_factory(self, coro, context=context)
            if name is not None:
                task.set_name(name)
            if self._track_task_origins and isinstance(task, TaskCore):
                tasks.note_origin(task)
            factory_task: asyncio.Task[T] = task
            return factory_task
        if self._track_task_origins:
            # Through TaskCore's type: native stores in the compiled build.
            _origins.note(task, self._running)
        result: asyncio.Task[T] = task
        return result

    def _task_of_step(self, handle: Any) -> Any:
        return tasks.task_of_step(tasks.callback_of(handle))

    def set_task_factory(self, factory: Callable[..., Any] | None) -> None:
        if factory is not None and not callable(factory):
            raise TypeError(f"task factory must be a callable or None, got {factory!r}")
        self._task_factory = factory

    def get_task_factory(self) -> Callable[..., Any] | None:
        return self._task_factory

    # -- running and stopping ------------------------------------------------------------

    def _check_can_run(self) -> None:
        self._check_closed("run the event loop")
        if self._state is LoopState.RUNNING:
            raise RuntimeError("This event loop is already running")
        if _compat.get_running_loop_or_none() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    def run_forever(self) -> None:
        """Run passes until ``stop()``."""
        self._check_can_run()
        self._set_origin_tracking(self._debug)
        if self._track_task_origins:
            # The site a task made before the loop ran (``run_until_complete(main())``) lies
            # below the loop, in the frame that called it: no task of the running loop comes
            # from there, and looked at first it would name their origins as that call.
            _origins.forget_site()
        saved_hooks = sys.get_asyncgen_hooks()
        self._move_to(LoopState.RUNNING)
        self._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )
        try:
            _compat.set_running_loop(self._as_asyncio_loop())
            while True:
                # Called on the class, not looked up on the loop: nothing overrides the pass,
                # and in the compiled build this is a direct C call (a look-up through
                # spindle.EventLoop, a Python subclass, would cost more than the call).
                Scheduler._run_once(self)
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._thread_id = None
            self._move_to(LoopState.IDLE)
            _compat.set_running_loop(None)
            self._set_origin_tracking(False)
            sys.set_asyncgen_hooks(*saved_hooks)

    def run_until_complete(self, future: Generator[Any, None, T] | Awaitable[T]) -> T:
        """Run until ``future`` (a future, task, coroutine or awaitable) is done; its result."""
        self._check_can_run()
        new_task = not isfuture(future)
        fut: Any = tasks.ensure_future(future, loop=self._as_asyncio_loop())
        if new_task and isinstance(fut, TaskCore):
            # Its exception reaches the caller; no need for "destroyed but pending" noise.
            fut._log_destroy_pending = False
        fut.add_done_callback(_stop_loop_when_done)
        try:
            self.run_forever()
        except BaseException:
            if new_task and fut.done() and not fut.cancelled():
                fut.exception()  # the exception propagates: mark it retrieved
            raise
        finally:
            fut.remove_done_callback(_stop_loop_when_done)
        if not fut.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        result: T = fut.result()
        return result

    def stop(self) -> None:
        """Stop after the current pass (or the next one, if not running)."""
        self._stopping = True

    def close(self) -> None:
        """Close the loop: drop pending callbacks, shut the executor down without waiting."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._state is LoopState.CLOSED:
            return
        if self._debug:
            logger.debug("Close %r", self)
        self._move_to(LoopState.CLOSED)
        self._ready.clear()
        self._timers.clear()
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)
        forget_tasks_of(self)
        self._close_io()

    def __del__(self) -> None:
        if self._state is not LoopState.CLOSED:
            warnings.warn(
                f"unclosed event loop {self!r}", ResourceWarning, stacklevel=1, source=self
            )
            if not self.is_running():
                self.close()

    # -- async generators ----------------------------------------------------------------

    def _asyncgen_firstiter_hook(self, agen: AsyncGenerator[Any, Any]) -> None:
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                "loop.shutdown_asyncgens() call",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
        self._asyncgens.add(agen)

    def _asyncgen_finalizer_hook(self, agen: AsyncGenerator[Any, Any]) -> None:
        # Called by the garbage collector, possibly in another thread.
        self._asyncgens.discard(agen)
        if self._state is not LoopState.CLOSED:
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    async def shutdown_asyncgens(self) -> None:
        """Close every async generator that is still suspended."""
        self._asyncgens_shutdown_called = True
        agens = self._asyncgens.live()
        self._asyncgens.clear()
        closing = [(agen, self.create_task(agen.aclose())) for agen in agens]
        for agen, task in closing:
            try:
                await task
            except Exception as exc:
                self.call_exception_handler(
                    {
                        "message": "an error occurred during closing of "
                        f"asynchronous generator {agen!r}",
                        "exception": exc,
                        "asyncgen": agen,
                    }
                )

    # -- threads -------------------------------------------------------------------------

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        """Run ``func(*args)`` in ``executor`` (default: the loop's thread pool); a future."""
        self._check_closed("run in an executor")
        self._check_callback(func, "run_in_executor")
        if executor is None:
            executor = self._default_executor
            if executor is None:
                if self._executor_shutdown_called:
                    raise RuntimeError(
                        "cannot run in the default executor: shutdown_default_executor() "
                        "has been called"
                    )
                # asyncio's thread names ("asyncio_0", ...): code that recognises the loop's
                # worker threads by name (loggers, thread dumps, tests) sees the same.
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._default_executor = executor
        future: asyncio.Future[T] = wrap_concurrent_future(executor.submit(func, *args), loop=self)
        return future

    def set_default_executor(self, executor: Any) -> None:
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError(
                "executor must be ThreadPoolExecutor instance, "
                f"not {type(executor).__name__}"
            )
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        """Wait (up to ``timeout`` seconds) for the default executor's threads to finish."""
        if timeout is not None:
            refuse_nan(timeout, "shutdown_default_executor() timeout")
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is None:
            return
        finished: Any = self.create_future()
        thread = threading.Thread(
            target=self._shut_executor_down, args=(executor, finished), name="spindle-shutdown"
        )
        thread.start()
        timer = None if timeout is None else self.call_later(timeout, _settle, finished, False)
        try:
            completed = await finished
        finally:
            if timer is not None:
                timer.cancel()
        if completed:
            thread.join()
        else:
            warnings.warn(
                "The executor did not finishing joining its threads within "
                f"{timeout} seconds.",
                RuntimeWarning,
                stacklevel=2,
            )
            executor.shutdown(wait=False)

    def _shut_executor_down(
        self, executor: concurrent.futures.ThreadPoolExecutor, finished: Any
    ) -> None:
        executor.shutdown(wait=True)
        if self._state is not LoopState.CLOSED:
            # RuntimeError: closed meanwhile, and nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                self.call_soon_threadsafe(_settle, finished, True)



def _settle(fut: Any, value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


class _Origins:
    """Where the program created each task: the innermost frame outside the runtime.

    FAST PATH: ``tasks.note_origin`` written out for ``BaseLoop.create_task``.  Diagnostics
    turn origins on for every task, so this is kept cheap; tests/core/test_fast_paths.py holds
    the two to the same result.  Three savings, each of a frame's attribute read or a frame
    object made (some 150 instructions each, where a task costs some 18 thousand):

    * the code object and offset are stored as they are (``origin_of`` makes a line of them when
      a report asks);
    * the walk from create_task's caller outwards remembers the code objects it met as the
      program's or the runtime's (four of the runtime's, because one path to create_task can
      pass through two of its functions, asyncio's ``gather`` calling ``_ensure_future``, and a
      program that mixes gather, TaskGroup and ``create_task`` must not have one path push out
      another's), told apart by identity, sparing a file-name lookup per frame;
    * the *site* the walk ended at last (the program's code object, the instruction in it, and
      how many runtime frames lay between it and create_task) is looked at first, with one
      ``sys._getframe(depth)``: a program creating tasks in a loop, or through asyncio's
      ``gather`` or ``TaskGroup``, comes back to the same site, and the runtime's frames in
      between (a new frame object each, made only to be read) are not made at all.  The
      instruction is a call, so what lies below it is what that call leads to: the same
      runtime functions, unless the call site calls different things at different times
      (``spawn(coro)`` with ``spawn`` sometimes ``asyncio.create_task``, sometimes a function
      of the program's that calls it); then the origin given is that call's line, one level
      out on the same path, rather than the line inside the program's function.

    Code objects are compared by identity: pointer comparisons in the compiled build, where
    comparing them by value would read their contents.

    In the compiled build, one more, before all of them: the *owner* (``taskcore._hooks``), a
    task whose own coroutine (not one it awaits) has been the site of two creations in a row,
    is held with its coroutine's frame.  While that task's step runs (the loop's
    ``_running``), a frame at the same instruction as the last creation is the same call, in
    progress: the origin is that instruction, read with the frame's one attribute,
    ``f_lasti``, and no ``sys._getframe`` (with its audit event) nor ``f_code`` at all
    (``bench`` ``create_task`` with diagnostics on: 17.7 -> 17.3 thousand instructions a task).
    The instruction is a call (``_is_call``): at an await, the frame runs what it awaits,
    the program's own code too.  The same limit as the site's holds.  The owner is let go of
    when it ends or its loop closes, so no frame (and no local of one) outlives its task; a
    task created inside another one's step (an eager start) runs under the owner's
    ``_running`` but at another instruction of the owner's frame, and goes the long way.
    """

    def __init__(self) -> None:
        self._site_code: types.CodeType | None = None
        self._site_lasti = -1
        # How far out the site's frame is from note's: sys._getframe's argument, kept as the
        # int object it takes (not a native int, which would be boxed again on every call).
        self._site_getframe_arg: Any = _CALLER_DEPTH
        self._site_is_caller = True  # no runtime frames between: any offset in it will do
        self._runtime_0: types.CodeType | None = None
        self._runtime_1: types.CodeType | None = None
        self._runtime_2: types.CodeType | None = None
        self._runtime_3: types.CodeType | None = None
        self._next_slot = 0
        # id() of the task whose step made the last creation that was not the owner's: a
        # second creation in a row by one task is when it may become the owner (ids only
        # decide when to look, not what is recorded).
        self._last_creator = 0
        # id() of the frame last looked at for it (and found not to be its coroutine's): the
        # remembered site's branch of ``note`` does not call ``_own`` again for it.
        self._looked_at = 0
        self._owner_moved_to = -1  # the owner's frame's instruction at its last creation there

    def forget_site(self) -> None:
        self._site_code = None
        self._site_lasti = -1
        self._site_getframe_arg = _CALLER_DEPTH
        self._site_is_caller = True

    def note(self, task: TaskCore, running: object) -> None:
        """Record ``task``'s origin; called by create_task, so its caller is the creator.

        ``running``: what the loop is running (``Scheduler._running``), the creator's task
        when its step is running.
        """
        hooks = _task_hooks
        owner = hooks.origin_owner
        if COMPILED and owner is not None and _is_step_of(running, owner):
            owned: Any = hooks.origin_frame
            at: int = owned.f_lasti
            # The same call in progress, or create_task called by the owner's frame itself,
            # from another line (the innermost frame: this one is native, and has none).
            if at == hooks.origin_lasti or _getframe(_CALLER_DEPTH) is owned:
                task._origin_code = hooks.origin_code
                task._origin_lasti = at
                return
        try:
            frame: Any = _getframe(self._site_getframe_arg)
        except ValueError:  # the stack is not that deep now
            frame = None
        if frame is not None and frame.f_code is self._site_code:
            lasti: int = frame.f_lasti
            if self._site_is_caller or lasti == self._site_lasti:
                task._origin_code = self._site_code
                task._origin_lasti = lasti
                if COMPILED and id(frame) != self._looked_at:
                    self._own(running, frame, lasti)
                return
        if frame is None or not self._site_is_caller:
            frame = _getframe(_CALLER_DEPTH)  # else the frame looked at is the caller's already
        site = self._walk(task, frame)
        if COMPILED and site is not None:
            self._own(running, site, self._site_lasti)

    def _walk(self, task: TaskCore, frame: Any) -> Any:
        """Walk out from ``frame``, create_task's caller, to the program's frame (returned)."""
        depth = 0
        code = frame.f_code
        while self._is_runtime(code):
            frame = frame.f_back
            if frame is None:
                return None
            depth += 1
            code = frame.f_code
        lasti: int = frame.f_lasti
        task._origin_code = code
        task._origin_lasti = lasti
        self._site_code = code
        self._site_lasti = lasti
        self._site_getframe_arg = _CALLER_DEPTH + depth
        self._site_is_caller = depth == 0
        return frame

    def _own(self, running: object, frame: Any, lasti: int) -> None:
        """(Compiled build.)  ``running``'s task owns the site if ``frame`` is its coroutine's."""
        hooks = _task_hooks
        if running is None:
            return
        owner = hooks.origin_owner
        if owner is not None and _is_step_of(running, owner):
            # The owner's: at another instruction of its frame (through the runtime, which the
            # fast path does not follow), or a frame its coroutine awaits.  Twice in a row at
            # the same other call of its frame: that call is the one looked at first now.
            if frame is not hooks.origin_frame:
                self._looked_at = id(frame)  # not to be looked at again while it is the site
                return
            code = hooks.origin_code
            if lasti != self._owner_moved_to:
                self._owner_moved_to = lasti
            elif code is not None and _is_call(code, lasti):
                hooks.origin_lasti = lasti
            return
        # The creator's task, known by what the loop runs (see _is_step_of).
        key = running._callback if isinstance(running, Handle) else running
        creator = id(key)
        if creator != self._last_creator:
            self._last_creator = creator  # its first creation lately: not worth a look yet
            self._looked_at = 0
            return
        looked_at = id(frame)
        if looked_at == self._looked_at:
            return  # looked at already, for this creator: not its coroutine's frame
        self._looked_at = looked_at
        task = getattr(key, "__self__", None) if key is not running else running
        if not isinstance(task, TaskCore) or not _is_step_of(running, task):
            return  # a callback's creation, not a task's
        coro = task._coro
        if type(coro) is not _CoroutineType or coro.cr_frame is not frame:
            return
        code = self._site_code  # the frame's
        if code is None or not _is_call(code, lasti):
            # An await (a coroutine of the runtime's that created the task): what runs below it
            # later, in the same task, can be the program's own code.
            return
        hooks.origin_owner = task
        hooks.origin_frame = frame
        hooks.origin_code = code
        hooks.origin_lasti = lasti

    def _is_runtime(self, code: types.CodeType) -> bool:
        """``code`` is the runtime's (spindle's or asyncio's); remembered if so."""
        if (
            code is self._runtime_0
            or code is self._runtime_1
            or code is self._runtime_2
            or code is self._runtime_3
        ):
            return True
        if code is self._site_code or code.co_filename not in RUNTIME_FILES:
            return False
        slot = self._next_slot
        if slot == 0:
            self._runtime_0 = code
        elif slot == 1:
            self._runtime_1 = code
        elif slot == 2:
            self._runtime_2 = code
        else:
            self._runtime_3 = code
        self._next_slot = (slot + 1) % 4
        return True


# The frame of create_task's caller, as seen from _Origins.note: the innermost Python frame in
# the compiled build, where create_task and note are native (no frames of their own); two out
# in the pure build, past note's frame and create_task's.
_CALLER_DEPTH: Final = 0 if COMPILED else 2
# The instructions of a call (3.11-3.13), in the code objects' co_code.
_CALL_NAMES: Final = ("CALL", "CALL_FUNCTION_EX", "CALL_KW")


def _is_step_of(running: object, task: TaskCore) -> bool:
    """Whether ``running`` (what the loop runs) is ``task``'s step.

    A task's step is the task itself, queued as itself, or the wake-up it gives the futures it
    awaits: one bound method for all its waits (``TaskCore._wakeup_method``).
    """
    if running is task:
        return True
    return isinstance(running, Handle) and running._callback is task._wakeup_method


def _is_call(code: types.CodeType, lasti: int) -> bool:
    """Whether the instruction at ``lasti`` (a frame's ``f_lasti``) is a call."""
    instructions = code.co_code
    at = lasti
    while at > 0 and instructions[at] == _CACHE:  # a call in progress shows its inline cache
        at -= 2
    return at >= 0 and instructions[at] in _CALLS


_CACHE: Final = dis.opmap["CACHE"]
_CALLS: Final = frozenset(dis.opmap[name] for name in _CALL_NAMES if name in dis.opmap)
_origins: Final = _Origins()
_task_hooks: Final = taskcore_hooks
_CoroutineType: Final = types.CoroutineType
