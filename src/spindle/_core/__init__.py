"""spindle's kernel: clocks, timers, handles, Future, Task and the scheduling loop.

Nothing in here imports from the layers above (I/O, the public API, diagnostics).
"""
