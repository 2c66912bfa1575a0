"""The channel behind ``python -m spindle ps PID``: a private Unix socket per process.

While a diagnostics session runs (``spindle.run()``, ``python -m spindle``), the process
listens on ``<dir>/<pid>.sock`` and answers each connection with a JSON snapshot of its loops'
tasks (``snapshot``).  The answer comes from a thread of its own, never from the loop, so it
comes while the loop is busy, or stuck in a ``time.sleep(600)``.

Who may ask: only the user the process runs as.  Three locks, each enough on its own:

* the directory is private: ``$XDG_RUNTIME_DIR/spindle`` (a per-user directory the system
  already keeps private) or else ``/tmp/spindle-<uid>``, created 0700; before using it the
  server checks that it is a real directory (not a symlink), owned by this user and closed to
  everybody else, and refuses to serve otherwise (another user could have created it first);
* the socket file is 0600;
* every connection's peer is checked with ``SO_PEERCRED``: a different uid is hung up on
  before a byte is read.  The client checks the server the same way (that it runs as this user
  and is the process it asked for), so a stale socket left by a dead process, whose pid was
  reused, is not mistaken for the answer.

The server only reads: the request is a single line naming what to read (``snapshot``);
nothing the client sends is run or evaluated, and the snapshot runs none of the program's code.

One server per process, shared by its sessions (counted); the last session to close stops it
and removes the socket.  A forked child does not inherit it (it has its own pid, and starts
its own with its first session); the thread steps aside while the process forks
(``helper_threads``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import stat
import struct
import threading
from typing import Any

from spindle.diagnostics import dump, snapshot
from spindle.diagnostics.helper_threads import HelperThread

__all__ = ["ControlError", "acquire", "ask", "release", "socket_dir", "socket_path"]

logger = logging.getLogger("spindle")

PROTOCOL = 1
REQUEST = b"snapshot\n"
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_MAX_REQUEST = 256


class ControlError(Exception):
    """The channel cannot be used: says why, in words for the user."""


def socket_dir() -> str:
    """The private directory of this user's spindle sockets."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "spindle")
    return f"/tmp/spindle-{os.getuid()}"


def socket_path(pid: int) -> str:
    return os.path.join(socket_dir(), f"{pid}.sock")


def check_private(directory: str) -> None:
    """Raise ControlError unless ``directory`` is a real directory only this user can use."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        raise ControlError(f"{directory} does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ControlError(f"{directory} is not a directory (a symlink or a file)")
    if info.st_uid != os.getuid():
        raise ControlError(f"{directory} belongs to uid {info.st_uid}, not to this user")
    if info.st_mode & 0o077:
        raise ControlError(f"{directory} is open to other users (mode {info.st_mode & 0o777:o})")


def _make_private_dir(directory: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    check_private(directory)


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket."""
    pid, uid, _ = _CREDENTIALS.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    )
    return pid, uid


class _Server:
    """The listening socket and the thread that answers it."""

    def __init__(self) -> None:
        directory = socket_dir()
        _make_private_dir(directory)
        self.path = socket_path(os.getpid())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a dead process whose pid we now have
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(self.path)
            os.chmod(self.path, 0o600)
            self._sock.listen(8)
            self._sock.setblocking(False)  # poll() says when to accept (see _serve)
        except OSError:
            self._sock.close()
            raise
        self._pid = os.getpid()
        # What wakes the thread from its wait for a client: a byte on this pair, sent to
        # stop it, or to have it step aside for a fork (``helper_threads``).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = HelperThread("spindle-ps", self._serve, self._interrupt, self._drain)
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop(timeout=5)
        self.close()
        if os.getpid() == self._pid:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def close(self) -> None:
        """Close the sockets (in a forked child: the parent's server stays the parent's)."""
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(64):
                pass

    def _serve(self) -> None:
        waiting = select.poll()
        waiting.register(self._sock, select.POLLIN)
        waiting.register(self._wake_r, select.POLLIN)
        wake = self._wake_r.fileno()
        while True:
            ready = [fd for fd, _ in waiting.poll()]
            if wake in ready:
                return  # stopped, or a fork is coming
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                continue  # the client gave up before we took its connection
            except OSError:
                return  # closed under us
            with conn:
                try:
                    self._answer(conn)
                except Exception:  # a client that went away, a snapshot that failed
                    logger.debug("spindle: ps request failed", exc_info=True)

    def _answer(self, conn: socket.socket) -> None:
        _, uid = peer_credentials(conn)
        if uid != os.getuid():
            return  # hang up: only this process's own user may look inside it
        conn.settimeout(5.0)
        request = conn.recv(_MAX_REQUEST)
        if request != REQUEST:
            conn.sendall(_encode({"protocol": PROTOCOL, "error": "unknown request"}))
            return
        conn.sendall(_encode(_snapshot_reply()))


def _snapshot_reply() -> dict[str, Any]:
    """Every watched loop's snapshot, retried when a loop changed under the reading."""
    for attempt in range(3):
        try:
            loops = [snapshot.to_json(snapshot.take(loop)) for loop in dump.watched_loops()]
        except RuntimeError:  # a dict or set changed size while the loop ran
            if attempt == 2:
                raise
            continue
        return {
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "command": dump.process_command(),
            "loops": loops,
        }
    raise AssertionError("unreachable")


def _encode(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply).encode("utf-8")


_lock = threading.Lock()
_server: _Server | None = None
_users = 0


def acquire() -> None:
    """A session starts: serve ``ps`` requests (the first one starts the server)."""
    global _server, _users
    with _lock:
        _users += 1
        if _server is not None:
            return
        try:
            _server = _Server()
        except (ControlError, OSError) as exc:
            logger.warning("spindle: python -m spindle ps will not reach this process: %s", exc)
            _users -= 1


def release() -> None:
    """A session ends: the last one stops the server."""
    global _server, _users
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _server is not None:
            server, _server = _server, None
            server.stop()


def _forget_in_child() -> None:
    """After fork: the parent's server is the parent's (its thread did not come along)."""
    global _server, _users, _lock
    _lock = threading.Lock()
    if _server is not None:
        with contextlib.suppress(OSError):
            _server.close()
    _server = None
    _users = 0


os.register_at_fork(after_in_child=_forget_in_child)


def ask(pid: int, timeout: float = 10.0) -> dict[str, Any]:
    """The snapshot reply of process ``pid``; ControlError says why there is none."""
    path = socket_path(pid)
    directory = os.path.dirname(path)
    if os.path.exists(directory):
        check_private(directory)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    with sock:
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(_not_serving(pid)) from None
        server_pid, server_uid = peer_credentials(sock)
        if server_uid != os.getuid() or server_pid != pid:
            raise ControlError(
                f"the socket for process {pid} is served by process {server_pid} "
                f"(uid {server_uid}): not trusted"
            )
        sock.sendall(REQUEST)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    if not chunks:
        raise ControlError(f"process {pid} hung up without answering")
    reply: dict[str, Any] = json.loads(b"".join(chunks))
    if reply.get("protocol") != PROTOCOL or "error" in reply:
        raise ControlError(f"process {pid} answered: {reply.get('error', 'another protocol')}")
    return reply


def _not_serving(pid: int) -> str:
    command = _command_of(pid)
    return (
        f"process {pid}{f' ({command})' if command else ''} does not answer spindle's ps: it "
        "is not running a spindle loop under spindle.run() or python -m spindle, or spindle's "
        "diagnostics are off in it (SPINDLE_DIAGNOSTICS=0, SPINDLE_PS=0)"
    )


def _command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(200)
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
