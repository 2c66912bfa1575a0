"""spindle's I/O floor: the loop's readiness, and the rooms built on it.

Beside each other at the bottom:

    poller.py  waker.py  resolve.py  contract.py (IOLoop: the loop as transports see it)
    readiness.py      ReadinessLoop: readers, writers, the wake-up, the shared read buffer
    sockets.py        SocketMethods: sock_recv, sock_sendall, ..., getaddrinfo
    sock_sendfile.py  os.sendfile on a socket, or blocks read in the executor
    signals.py        SignalMethods: add_signal_handler, remove_signal_handler

The rooms, each importing only from the ones listed before it:

    transports/  the lifecycle, read side and write buffer they share; stream sockets
                 (TCP and Unix), datagram sockets, pipes; the policies every transport keeps
    tls/         TLS over any stream transport (its package face is the one door in)
    subprocess/  the loop's subprocess methods, their transport, the child watcher
    connect/     the loop's connection, server, datagram endpoint, pipe and sendfile methods

and ``loop.py``, where ``EventLoop`` lists every facility as a base.  ``tests/test_layers.py``
holds the rooms to this order; ``docs/architecture.md`` draws it.
"""
