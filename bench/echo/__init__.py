"""An echo server on every loop, loaded from another process: ``python -m bench.echo``.

The server runs on the implementation under test (``server``), the load generator on one fixed
implementation (``client``: uvloop), each in its own process; the driver (``run``) reads the
server's CPU time around each measured phase.  See ``bench/README.md``.
"""
