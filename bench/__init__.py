"""spindle's benchmark suite: spindle, asyncio, uvloop and rloop timed side by side.

Run it with ``python -m bench`` (see ``bench/README.md``).  Nothing here is imported by spindle.
"""
