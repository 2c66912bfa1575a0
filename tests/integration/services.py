"""Real PostgreSQL and Redis servers for the library tests, started and stopped by the tests.

Each server is a throw-away instance in a temporary directory on a free loopback port, so the
tests never touch (or depend on) a system-wide service.  The binaries come from the Debian
packages ``scripts/install-services.sh`` installs; where one is missing, the fixtures skip with
the name of what is missing.

PostgreSQL refuses to run as root.  When the tests run as root (containers, CI) the cluster is
created and run as an unprivileged user (``postgres`` when the package made one, else
``nobody``), through ``subprocess``'s ``user=``/``group=`` switch; its directory is handed to
that user, and lives directly in the system temporary directory, because pytest's own temporary
tree is private to root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTALL_HINT = "run scripts/install-services.sh"
UNPRIVILEGED_USERS = ("postgres", "nobody")
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback TCP port nobody listens on (the kernel picks it; it is free until reused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name  # /usr/lib/postgresql/<version>/bin/initdb
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_postgres_bindir() -> Path | None:
    """The newest PostgreSQL server's ``bin`` directory: Debian's layout first, then PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


# -- PostgreSQL --------------------------------------------------------------------------------


@dataclass
class Postgres:
    """A running cluster: TCP on 127.0.0.1:port, a unix socket in ``socket_dir``, user trusted."""

    bindir: Path
    dir: Path
    port: int
    run_as: dict[str, Any]
    user: str = "postgres"
    database: str = "postgres"
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def socket_dir(self) -> str:
        return str(self.dir)

    def connect_kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": self.user, "database": self.database}

    def pg_ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **self.run_as)


def _unprivileged() -> pwd.struct_passwd | None:
    for name in UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _run_as(directory: Path) -> dict[str, Any]:
    """subprocess arguments that run a command as an unprivileged owner of ``directory``."""
    if os.geteuid() != 0:
        return {"cwd": directory}
    account = _unprivileged()
    if account is None:
        raise LookupError(f"running as root and none of the users {UNPRIVILEGED_USERS} exists")
    os.chown(directory, account.pw_uid, account.pw_gid)
    ids = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    return {"cwd": directory, **ids}


def _cluster_settings(port: int, socket_dir: str, tls: bool) -> str:
    settings = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{socket_dir}'",
        # A throw-away cluster: durability only costs time.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "ssl": "on" if tls else "off",
    }
    return "".join(f"{name} = {value}\n" for name, value in settings.items())


def _install_certificate(data: Path, cert: str, key: str, run_as: dict[str, Any]) -> None:
    # PostgreSQL insists that its key is private to the user it runs as.
    shutil.copy(cert, data / "server.crt")
    shutil.copy(key, data / "server.key")
    for name in ("server.crt", "server.key"):
        os.chmod(data / name, 0o600)
        if "user" in run_as:
            os.chown(data / name, run_as["user"], run_as["group"])


def start_postgres(bindir: Path, tls: tuple[str, str] | None = None) -> Postgres:
    """initdb a cluster in a new temporary directory and start it (``tls``: cert and key)."""
    directory = Path(tempfile.mkdtemp(prefix="spindle-postgres-"))
    try:
        run_as = _run_as(directory)
        server = Postgres(bindir=bindir, dir=directory, port=free_port(), run_as=run_as)
        initdb = [
            str(bindir / "initdb"), "-D", str(server.data), "-A", "trust", "-U", server.user,
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL, **run_as)
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write(_cluster_settings(server.port, server.socket_dir, tls is not None))
        if tls is not None:
            _install_certificate(server.data, *tls, run_as)
        server.pg_ctl("-l", str(directory / "server.log"), "-w", "-t", "30", "start")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


def stop_postgres(server: Postgres) -> None:
    try:
        server.pg_ctl("-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(server.dir, ignore_errors=True)


# -- Redis -------------------------------------------------------------------------------------


@dataclass
class Redis:
    """A running redis-server: TCP on 127.0.0.1:port and a unix socket at ``unix_path``."""

    process: subprocess.Popen[bytes]
    dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def unix_path(self) -> str:
        return str(self.dir / "redis.sock")


def _wait_until_accepting(server: Redis) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"redis-server exited at startup with {server.process.returncode}")
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # polling a starting server: nothing to wait on but time
        else:
            return


def start_redis(binary: str) -> Redis:
    directory = Path(tempfile.mkdtemp(prefix="spindle-redis-"))
    port = free_port()
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--unixsocket", str(directory / "redis.sock"), "--dir", str(directory),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    server = Redis(process=process, dir=directory, port=port)
    try:
        _wait_until_accepting(server)
    except BaseException:
        stop_redis(server)
        raise
    return server


def stop_redis(server: Redis) -> None:
    try:
        server.process.terminate()
        server.process.wait(timeout=STARTUP_TIMEOUT)
    finally:
        shutil.rmtree(server.dir, ignore_errors=True)
