"""CPython's own asyncio test suite, run against spindle (see README.md in this directory)."""
