"""A throwaway PostgreSQL server for tests: initdb + pg_ctl on a free loopback port.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(Debian's package creates it) and every server command runs as that user (``runuser``).
Where no server can be started the tests skip, saying why; with ``MARGINENGINE_REQUIRE_PG=1``
(set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries folder, or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(reason: str) -> None:
    """Skip, or fail when the run requires PostgreSQL."""
    if os.environ.get("MARGINENGINE_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL tests are required (MARGINENGINE_REQUIRE_PG=1): {reason}")
    pytest.skip(reason)


@contextmanager
def pg_cluster() -> Iterator[str]:
    """Start a cluster; yield the base URL ``postgresql://postgres@127.0.0.1:PORT``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install 'marginengine[serve]')")
    binaries = pg_bin()
    if binaries is None:
        unavailable("no PostgreSQL server binaries (apt-get install postgresql)")
        return
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no postgres user to run the server")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="marginengine-pg-"))
    data = root / "data"
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=on "
                f"-c max_connections=40")
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log),
                        "-o", opts, "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"cannot start a PostgreSQL server: {exc} {detail.decode()[-300:]}")
        return
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def new_database(base: str, name: str) -> str:
    """Create database ``name`` on the server; its URL."""
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"
