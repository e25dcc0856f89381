"""CLI room: `oms up`, `oms down`, `oms status`, `oms top`, `oms run`: the whole stack under supervisord.

Touches `<root>/var/` only: renders configs/supervisord.conf.tmpl into var/run/supervisord.conf for this
machine's cores (oms.pinning.plan), starts supervisord (unix socket var/run/supervisor.sock, 0700, no
TCP), writes var/run/stack.json (what was rendered, what was left out and why) and var/run/services.json
(same format as `oms services up`, so programs find NATS/Postgres/Redis/OpenBao with
oms.services.manager.current()). Talks to supervisord over XML-RPC on the unix socket.

Programs whose module does not exist yet are left out and listed by `oms status`; nothing is faked.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import signal
import string
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oms import log, pinning
from oms.errors import ConfigError, OmsError
from oms.testing import NotYet, eventually

_log = log.get(__name__)
TEMPLATE = Path(__file__).resolve().parents[2] / "configs" / "supervisord.conf.tmpl"
BLOCK_MARK = ";; ---- program block"
VENV_BIN = Path(sys.executable).parent

# Start order of the OMS programs (lower first); names not listed start last. The programs themselves
# (module, args, core, enabled) come from the config's [processes.<name>] tables (oms/config/core.py).
PRIORITY = {
    "monitor": 30,
    "engine": 40,
    "marketdata": 40,
    "conn": 50,
    "bridge": 60,
    "recorder": 60,
    "gateway": 60,
    "keys": 60,
}
# Per-program wiring flags as each program's own parser spells them ({...} filled by plan_stack); a program
# not listed gets none and reads its endpoints from the OMS_* environment / services.json.
PROGRAM_ARGS: dict[str, list[str]] = {
    "monitor": [
        "--port",
        "{monitor_port}",
        "--prefix",
        "{prefix}",
        "--venues",
        "{venues}",
        "--nats-url",
        "{nats}",
    ],
    "bridge": ["--prefix", "{prefix}", "--nats-url", "{nats}", "--spool-dir", "{data}/spool"],
    # no --migrate: the recorder logs in as a role that cannot change the schema; `oms up` migrates as owner
    "recorder": ["--nats-url", "{nats}"],
    "gateway": ["--port", "{gateway_port}", "--prefix", "{prefix}"],
    "engine": ["--prefix", "{prefix}", "--venues", "{venues}"],
    "marketdata": ["--prefix", "{prefix}", "--venues", "{venues}"],
    "keys": ["--nats-url", "{nats}"],
}
SERVICE_PRIORITY = 10
STABLE_S = 10.0  # after starting, `oms up` watches this long for programs that crash later than startsecs
APP_STARTSECS = 5  # a program must stay up this long to count as started (a crash loop shows as BACKOFF)


def processes(cfg: Any | None) -> dict[str, Any]:
    """[processes.<name>] from the config (module, args, core, enabled); the built-in table without one."""
    if cfg is not None:
        return dict(cfg.processes)
    from oms.config.core import DEFAULT_PROCESSES

    return dict(DEFAULT_PROCESSES)


def default_core_map(cfg: Any | None = None) -> dict[str, int | None]:
    """The enabled programs' wanted cores (None = any core), as oms.pinning.plan takes them."""
    return {n: p.core for n, p in processes(cfg).items() if p.enabled}


def priority_of(name: str) -> int:
    return PRIORITY.get(name, PRIORITY.get(name.split("-")[0], 80))


SIM_PRIORITY = 20


@dataclass
class Program:
    name: str
    command: list[str]
    priority: int
    kind: str  # "service", "sim" or "app"
    core: int | None = None
    wanted: int | None = None
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    stopsignal: str = "TERM"
    stopwaitsecs: int = 10
    startsecs: int = 1
    directory: str = ""  # working directory; "" = the project root


@dataclass
class StackPaths:
    root: Path

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def run(self) -> Path:
        return self.var / "run"

    @property
    def log(self) -> Path:
        return self.var / "log"

    @property
    def data(self) -> Path:
        return self.var / "data"

    @property
    def conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def sock(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def stack_json(self) -> Path:
        return self.run / "stack.json"


# ---- configuration ------------------------------------------------------------------------------
def load_config(path: str | None) -> Any | None:
    """The OmsConfig from oms.config.load, or None when the loader has not landed (logged)."""
    try:
        from oms.config import load  # type: ignore[attr-defined]
    except ImportError:
        if path:
            raise ConfigError(f"--config {path}: oms.config.load is not available in this build") from None
        _log.warning("oms.config.load not available yet: every section uses its defaults")
        return None
    return load(path)


def _section(cfg: Any | None, name: str, default: Any) -> Any:
    if cfg is None:
        return default
    try:
        return cfg.section(name)
    except (KeyError, OmsError, AttributeError):
        return default


def module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# ---- the plan -----------------------------------------------------------------------------------
def _service_programs(
    paths: StackPaths, cfg: Any | None, app_names: list[str] | None = None
) -> tuple[list[Program], dict[str, Any]]:
    """nats/postgres/redis/openbao as supervisord programs, from oms/services' own command lines.
    NATS and Redis get one user per OMS program in `app_names` (oms/cli/_stackcreds.py)."""
    from oms.services.manager import CLASSES
    from oms.services.natsauth import PROGRAMS
    from oms.services.settings import Settings as ServicesSettings

    ss = _section(cfg, "services", ServicesSettings())
    progs: list[Program] = []
    objs: dict[str, Any] = {}
    for name in ss.start:
        sub = getattr(ss, name)
        if name == "nats" and (sub.urls or sub.cluster > 1):  # an existing NATS, or a local cluster
            objs[name], nodes = _nats_programs(paths, sub)
            progs += nodes
            continue
        kwargs: dict[str, Any] = {"port": int(sub.port)}
        if name == "postgres":
            kwargs.update(database=sub.database, fsync=sub.fsync)
        elif name == "redis":
            kwargs.update(persistent=sub.persistent, users=list(app_names or []))
        elif name == "nats":
            from oms.bus.settings import Settings as BusSettings

            bus = _section(cfg, "bus", BusSettings())
            # remote order senders get a user only when intake is on (docs/bus.md)
            senders = [f"intake-{n}" for n in bus.intake_senders] if bus.intake else []
            users = sorted({*PROGRAMS, *(app_names or []), *senders})
            kwargs.update(users=users, sync_interval=sub.sync_interval)
        elif name == "openbao" and sub.root_token:
            kwargs["root_token"] = sub.root_token
        svc = CLASSES[name](paths.data / name, **kwargs)
        svc.data_dir.mkdir(parents=True, exist_ok=True)
        svc._pick_ports()  # fixed at render time: a restart by supervisord keeps the same port
        svc._auto_port = False
        svc._prepare()
        env = svc._env()
        user = svc._user()
        username = ""
        if "user" in user:
            import pwd

            username = pwd.getpwuid(int(user["user"])).pw_name
        sig = signal.Signals(getattr(svc, "stop_signal", signal.SIGTERM)).name.removeprefix("SIG")
        progs.append(
            Program(
                name,
                svc._argv(),
                SERVICE_PRIORITY,
                "service",
                env=env,
                user=username,
                stopsignal=sig,
                stopwaitsecs=20,
                startsecs=2,
                # supervisord changes directory *after* dropping to `user=`: use a dir that user can enter
                directory=str(getattr(svc, "cluster", svc.data_dir)),
            )
        )
        objs[name] = svc
    return progs, objs


def _nats_programs(paths: StackPaths, sub: Any) -> tuple[Any, list[Program]]:
    """[services.nats] urls (an existing NATS: nothing to start) or cluster = 3|5 (nats-1..n programs)."""
    from oms.services.nats_cluster import ExternalNats, from_settings

    cluster = from_settings(sub, paths.data / "nats")
    if isinstance(cluster, ExternalNats):
        return cluster, []
    cluster.prepare()  # every port fixed now: supervisord restarts a node under the same name and store
    progs = [
        Program(
            f"nats-{i + 1}",
            node._argv(),
            SERVICE_PRIORITY,
            "service",
            env=node._env(),
            stopwaitsecs=20,
            startsecs=2,
            directory=str(node.data_dir),
        )
        for i, node in enumerate(cluster.nodes)
    ]
    return cluster, progs


def live_mode(cfg: Any | None) -> bool:
    """`[venues] mode = "live"` (or `oms up --live`, which sets OMS_VENUES__MODE)."""
    st = _section(cfg, "venues", None)
    return getattr(st, "mode", "sim") == "live" or os.environ.get("OMS_VENUES__MODE", "").strip('"') == "live"


def _sim_programs(paths: StackPaths, venues: list[str], live: bool) -> list[Program]:
    """One simulator per served venue whose adapter has one (none in live mode)."""
    if live or not module_exists("oms.cli.sim"):
        return []
    from oms.services.ports import free_port
    from oms.venues.registry import default_registry

    reg = default_registry()
    out = []
    for v in venues:
        spec = reg.get(v).simulator if v in reg.names() else None
        if spec is None:
            continue
        port = free_port()
        cmd = [str(VENV_BIN / "oms"), "sim", *spec.args, "--host", "127.0.0.1", "--port", str(port)]
        out.append(
            Program(f"sim-{v}", cmd, SIM_PRIORITY, "sim", env={"OMS_SIM_PORT": str(port), "OMS_SIM_VENUE": v})
        )
    return out


def plan_stack(
    paths: StackPaths, cfg: Any | None, monitor_port: int | None, prefix: str, gateway_port: int | None = None
) -> dict[str, Any]:
    """Everything `oms up` renders: programs (with cores), left-out programs and service endpoints."""
    from oms.venues.registry import default_registry

    procs = processes(cfg)
    services, svc_objs = _service_programs(paths, cfg, [n for n, p in procs.items() if p.enabled])
    venues = (
        sorted(
            {
                p.args[p.args.index("--venue") + 1]
                for n, p in procs.items()
                if p.enabled and "--venue" in p.args[:-1]
            }
        )
        or default_registry().names()
    )
    live = live_mode(cfg)
    sims = _sim_programs(paths, venues, live)
    left_out: dict[str, str] = {}
    apps: list[Program] = []
    core_map: dict[str, int | None] = {}
    for pname, spec in procs.items():
        if not spec.enabled:
            left_out[pname] = f"disabled in [processes.{pname}] (enabled = false)"
            continue
        if not module_exists(spec.module):
            left_out[pname] = f"module {spec.module.replace('.', '/')}.py not present yet"
            continue
        cmd = [sys.executable, "-u", "-m", spec.module, *spec.args]
        apps.append(Program(pname, cmd, priority_of(pname), "app", wanted=spec.core, startsecs=APP_STARTSECS))
        core_map[pname] = spec.core
    placements = pinning.plan(core_map)
    for p in apps:
        pl = placements[p.name]
        p.core, p.note = pl.core, ("" if pl.note == "unpinned" else pl.note)
        if pl.core is not None:
            p.command = ["taskset", "-c", str(pl.core), *p.command]
    from oms.monitor.settings import Settings as MonitorSettings

    msettings = _section(cfg, "monitor", MonitorSettings())
    from oms.services.ports import free_port

    mport = msettings.port if monitor_port is None else monitor_port
    mport = mport or free_port()
    gport = getattr(getattr(cfg, "ports", None), "gateway", 50051) if gateway_port is None else gateway_port
    gport = gport or free_port()
    endpoints = {n: _endpoint(s) for n, s in svc_objs.items()}
    env = _program_env(paths, endpoints, prefix, sims, cfg)
    if cfg is not None and getattr(cfg, "path", None):
        env["OMS_CONFIG"] = str(Path(cfg.path).absolute())
    fill = {
        "monitor_port": str(mport),
        "prefix": prefix,
        "venues": ",".join(venues),
        "nats": endpoints.get("nats", {}).get("url", ""),
        "data": str(paths.data),
        "gateway_port": str(gport),
    }
    for p in apps:
        p.env = {**env, "OMS_CORE": "" if p.core is None else str(p.core)}
        p.command += [a.format(**fill) for a in PROGRAM_ARGS.get(p.name.split("-")[0], [])]
        if p.name == "bridge" and "engine" in left_out:  # nobody else would create its rings
            p.command += ["--create-rings", "65536"]
    return {
        "live": live,
        "programs": services + sims + apps,
        "left_out": left_out,
        "services": svc_objs,
        "endpoints": endpoints,
        "monitor_url": f"http://127.0.0.1:{mport}",
        "gateway": f"127.0.0.1:{gport}",
        "venues": venues,
        "prefix": prefix,
        "cores": pinning.available_cores(),
    }


def _endpoint(svc: Any) -> dict[str, Any]:
    info = {"port": svc.port}
    for attr in ("url", "dsn"):
        with contextlib.suppress(AttributeError):
            info[attr] = getattr(svc, attr)
    return info


def _program_env(
    paths: StackPaths, endpoints: dict[str, Any], prefix: str, sims: list[Program], cfg: Any | None = None
) -> dict[str, str]:
    env = {
        "PYTHONUNBUFFERED": "1",
        "OMS_ROOT": str(paths.root),
        "OMS_RUN_DIR": str(paths.run),
        "OMS_SHM_PREFIX": prefix,
    }
    if os.environ.get("OMS_CONFIG"):
        env["OMS_CONFIG"] = os.environ["OMS_CONFIG"]
    for name, var, key in (
        ("nats", "OMS_NATS_URL", "url"),
        ("postgres", "OMS_PG_DSN", "dsn"),
        ("redis", "OMS_REDIS_URL", "url"),
        ("openbao", "OMS_VAULT_ADDR", "url"),
    ):
        if name in endpoints and key in endpoints[name]:
            env[var] = str(endpoints[name][key])
    if endpoints.get("nats", {}).get("monitor_port"):  # the monitor reads /varz and /jsz (loopback only)
        env["OMS_NATS_MONITOR_URL"] = f"http://127.0.0.1:{endpoints['nats']['monitor_port']}"
    from oms.venues.registry import default_registry

    for s in sims:  # every program talks to the local simulator, never to the real venue
        venue, base = s.env["OMS_SIM_VENUE"], f"127.0.0.1:{s.env['OMS_SIM_PORT']}"
        urls = default_registry().get(venue).simulator.urls(base)  # type: ignore[union-attr]
        files = {n: x.market for n, x in cfg.exchanges.items() if x.venue == venue} if cfg is not None else {}
        files = files or {f"{venue}_{m}": m for m in urls}
        for stem, market in files.items():
            for k, v in urls.get(market, {}).items():
                env[f"OMS_EXCHANGES__{stem.upper()}__{k.upper()}"] = v
        # a throwaway API key for the simulator lives in a local keystore under var/ (see _sim_credentials)
        env["OMS_SECRETS__BACKEND"] = "local"
        env["OMS_SECRETS__KEYSTORE_PATH"] = str(paths.var / "secrets" / "sim-keystore.json")
        env["OMS_SECRETS__PASSPHRASE_FILE"] = str(paths.run / "sim-keystore.pass")
    return env


# ---- rendering ----------------------------------------------------------------------------------
def _env_line(env: dict[str, str]) -> str:
    parts = []
    for k, v in env.items():
        v = v.replace("%", "%%").replace('"', '\\"')
        parts.append(f'{k}="{v}"')
    return ",".join(parts)


def render(
    paths: StackPaths,
    plan: dict[str, Any],
    template: Path = TEMPLATE,
    *,
    fixed: dict[str, str] | None = None,
    autostart_apps: bool = False,
) -> str:
    """The supervisord.conf text; `fixed` overrides header keys (the reference file of
    oms/cli/deploy.py pins rendered_at/user_line), `autostart_apps` starts OMS programs with supervisord."""
    try:
        text = template.read_text()
    except FileNotFoundError:
        raise ConfigError(f"supervisord template {template} is missing; restore configs/ from git") from None
    if BLOCK_MARK not in text:
        raise ConfigError(f"{template}: no '{BLOCK_MARK}' line separating the header from the program block")
    head, block = text.split(BLOCK_MARK, 1)
    block = block.split("\n", 1)[1]
    core_plan = ", ".join(
        f"{p.name}={'-' if p.core is None else p.core}" + (f" ({p.note})" if p.note else "")
        for p in plan["programs"]
        if p.kind == "app"
    )
    common = {
        "root": str(paths.root),
        "run_dir": str(paths.run),
        "log_dir": str(paths.log),
        "sock": str(paths.sock),
        "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": ",".join(map(str, plan["cores"])),
        "core_plan": core_plan or "no OMS programs present",
        "user_line": "user=root" if os.geteuid() == 0 else "",
        **(fixed or {}),
    }
    try:
        out = [string.Template(head).substitute(common)]
        for p in plan["programs"]:
            comment = {"service": "service", "sim": "venue simulator"}.get(p.kind, "OMS program")
            if p.kind == "app":
                comment += f"; wanted core {p.wanted}, got {p.core}" + (f" ({p.note})" if p.note else "")
            out.append(
                string.Template(block).substitute(
                    common,
                    name=p.name,
                    comment=comment,
                    command=shlex.join(p.command).replace("%", "%%"),
                    priority=p.priority,
                    autostart="true" if p.kind != "app" or autostart_apps else "false",
                    startsecs=p.startsecs,
                    # OMS programs wait on each other's rings after a restart (a killed engine takes
                    # ~30 s to recreate them under load): keep retrying instead of going FATAL
                    startretries=30 if p.kind == "app" else 5,
                    stopsignal=p.stopsignal,
                    stopwaitsecs=p.stopwaitsecs,
                    environment=_env_line(p.env),
                    extra=f"user={p.user}" if p.user else "",
                    directory=p.directory or str(paths.root),
                )
            )
    except (KeyError, ValueError) as e:
        raise ConfigError(
            f"{template}: bad placeholder {e}; use only the ${{name}} keys oms/cli/stack.py fills"
        ) from None
    return "\n".join(out)


# ---- supervisord control ------------------------------------------------------------------------
def rpc(paths: StackPaths) -> Any:
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{paths.sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def supervisord_up(paths: StackPaths) -> bool:
    if not paths.sock.exists():
        return False
    try:
        return rpc(paths).getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False


def read_stack(paths: StackPaths) -> dict[str, Any]:
    try:
        return json.loads(paths.stack_json.read_text())
    except FileNotFoundError:
        return {}


def _write_json(path: Path, data: object, mode: int = 0o644) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, default=str)
    os.replace(tmp, path)


def start_supervisord(paths: StackPaths) -> None:
    """Start the daemon on the rendered config with umask 077 (its own log is opened before it applies
    the config's umask=077), and wait for its socket."""
    res = subprocess.run(
        [str(VENV_BIN / "supervisord"), "-c", str(paths.conf)],
        capture_output=True,
        text=True,
        timeout=30,
        umask=0o077,
    )
    if res.returncode != 0:
        raise OmsError(f"supervisord did not start (exit {res.returncode}): {res.stderr.strip()[-800:]}")
    eventually(lambda: supervisord_up(paths), timeout=15, message=f"supervisord socket {paths.sock}")


def prepare_var(paths: StackPaths) -> None:
    """umask 077 for this process (supervisord gets umask=077 from its config) and var/ dirs 0700."""
    os.umask(0o077)  # everything this process creates is private to us
    for d in (paths.var, paths.run, paths.log, paths.data, paths.var / "secrets", paths.var / "audit"):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(d, 0o700)  # a directory made by an older run may be 0755 (a directory, not a secret)


def up(
    paths: StackPaths,
    config: str | None = None,
    monitor_port: int | None = None,
    prefix: str | None = None,
    timeout: float = 90.0,
    gateway_port: int | None = None,
) -> dict[str, Any]:
    """Render, start supervisord, wait for the services, then start the OMS programs in order."""
    if supervisord_up(paths):
        _log.info("stack already up (supervisord at %s)", paths.sock)
        return read_stack(paths)
    from oms.services.base import pid_alive
    from oms.services.manager import STATE_FILE, read_state

    old = read_state(paths.run / STATE_FILE)
    if old and pid_alive(int(old.get("keeper_pid") or 0)) and not old.get("supervisord"):
        raise OmsError(
            f"local services already run under `oms services up` (keeper pid {old['keeper_pid']}); "
            "stop them with `oms services down` before `oms up`"
        )
    prepare_var(paths)
    cfg = load_config(config)
    if prefix is None:
        prefix = cfg.node.shm_prefix if cfg is not None else "oms"
    plan = plan_stack(paths, cfg, monitor_port, prefix, gateway_port)
    if cfg is not None and any(p.name == "gateway" for p in plan["programs"]):
        _ensure_gateway_certs(cfg)
    from oms.cli._stacksim import (
        check_live_keys,
        fill_instruments,
        register_sim_key,
        sim_credentials,
        sim_key_names,
    )

    sim = any(p.kind == "sim" for p in plan["programs"])
    if plan["live"] and cfg is not None:
        check_live_keys(cfg, plan["venues"])  # refuse before anything starts
    sim_key = sim_credentials(paths, sim_key_names(cfg, plan["venues"])) if sim else None
    from oms.cli import _stackcreds
    from oms.credentials import write_private

    pg_roles = _stackcreds.prepare(paths.var, plan)
    write_private(paths.conf, render(paths, plan))  # 0600 from creation: it holds the OpenBao token
    start_supervisord(paths)
    sup = rpc(paths)
    stack = {
        "rendered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "conf": str(paths.conf),
        "monitor_url": plan["monitor_url"],
        "gateway": plan["gateway"],
        "config": str(Path(cfg.path).absolute()) if cfg is not None and getattr(cfg, "path", None) else None,
        "prefix": prefix,
        "venues": plan["venues"],
        "cores": plan["cores"],
        "endpoints": plan["endpoints"],
        "left_out": plan["left_out"],
        "programs": {p.name: {k: v for k, v in asdict(p).items() if k != "env"} for p in plan["programs"]},
        "start_errors": {},
    }
    _write_json(paths.stack_json, stack)
    try:
        _wait_services(plan["services"], timeout)
        _stackcreds.setup_database(plan, pg_roles)
        if sim_key is not None:
            register_sim_key(plan, sim_key, timeout)
        fill_instruments(paths, plan, cfg)
    except NotYet as e:
        raise OmsError(
            f"services did not become healthy: {e}; see {paths.log}/<service>.log, then `oms down`"
        ) from None
    state = {
        "keeper_pid": int(paths.pidfile.read_text().strip()),
        "supervisord": True,
        "started_at": stack["rendered_at"],
        "services": {n: s.info() for n, s in plan["services"].items()},
    }
    for name, info in state["services"].items():  # pids as supervisord sees them (for `oms services status`)
        with contextlib.suppress(xmlrpc.client.Fault):
            info["pid"] = int(sup.getProcessInfo(name)["pid"]) or None
    _write_json(paths.run / STATE_FILE, state, 0o600)
    groups: dict[int, list[str]] = {}
    for p in plan["programs"]:
        if p.kind == "app":
            groups.setdefault(p.priority, []).append(p.name)
    for prio in sorted(groups):  # one priority group at a time; within a group they start together
        for name in groups[prio]:
            with contextlib.suppress(xmlrpc.client.Fault):
                sup.startProcess(name, False)
        try:
            settled = eventually(
                lambda g=groups[prio]: _settled(sup, g), timeout=APP_STARTSECS + 30, interval=0.1
            )
        except NotYet:  # still cycling STARTING/BACKOFF (a crash loop): report it, start the next group
            settled = {i["name"]: i for i in sup.getAllProcessInfo() if i["name"] in groups[prio]}
        for name, info in settled.items():
            if info["statename"] != "RUNNING":
                why = f"{info['statename']}: {info['description']}; see {paths.log}/{name}.log"
                stack["start_errors"][name] = why
                _log.warning("%s did not start: %s", name, why)
    apps = [n for names in groups.values() for n in names if n not in stack["start_errors"]]
    for name, why in _flapping(sup, apps, STABLE_S).items():
        stack["start_errors"][name] = f"{why}; see {paths.log}/{name}.log"
        _log.warning("%s is not staying up: %s", name, why)
    _write_json(paths.stack_json, stack)
    return stack


def _flapping(sup: Any, names: list[str], seconds: float) -> dict[str, str]:
    """Programs that crash within `seconds` of starting (a slow crash loop passes startsecs)."""
    first = {i["name"]: i["pid"] for i in sup.getAllProcessInfo() if i["name"] in names}

    def decided() -> dict[str, Any] | None:
        infos = {i["name"]: i for i in sup.getAllProcessInfo() if i["name"] in names}
        done = all(
            i["pid"] != first[n] or i["statename"] != "RUNNING" or i["now"] - i["start"] >= seconds
            for n, i in infos.items()
        )
        return infos if done else None

    try:
        infos = eventually(decided, timeout=seconds + 15, interval=0.2, max_interval=0.5)
    except NotYet:  # supervisord's clock and ours disagree under load: judge what is there now
        infos = {i["name"]: i for i in sup.getAllProcessInfo() if i["name"] in names}
    return {
        n: f"restarted or stopped within {seconds:.0f}s of starting ({i['statename']}: {i['description']})"
        for n, i in infos.items()
        if i["pid"] != first[n] or i["statename"] != "RUNNING"
    }


def _settled(sup: Any, names: list[str]) -> dict[str, Any] | None:
    """Each program RUNNING (stayed up startsecs) or given up (FATAL/EXITED/STOPPED); None while starting."""
    infos = {i["name"]: i for i in sup.getAllProcessInfo() if i["name"] in names}
    if all(i["statename"] in ("RUNNING", "FATAL", "EXITED", "STOPPED") for i in infos.values()):
        return infos
    return None


def _ensure_gateway_certs(cfg: Any) -> None:
    """The gateway refuses to start without its TLS certificate: make the dev CA + certs once."""
    gs = cfg.section("gateway")
    cert = cfg.resolve_path(gs.cert)
    if cert.exists():
        return
    res = subprocess.run(
        [str(VENV_BIN / "oms"), "certs", "init", "--out", str(cert.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode != 0:
        raise OmsError(f"`oms certs init --out {cert.parent}` failed: {res.stderr.strip()[-400:]}")
    _log.info("made development TLS certificates in %s (oms certs init)", cert.parent)


def _wait_services(services: dict[str, Any], timeout: float) -> None:
    pending = dict(services)

    def all_healthy() -> bool:
        for name in list(pending):
            if pending[name].healthy():
                svc = pending.pop(name)
                if name == "postgres" and getattr(svc, "database", "postgres") != "postgres":
                    svc.ensure_database(svc.database)
        return not pending

    eventually(
        all_healthy,
        timeout=timeout,
        interval=0.05,
        max_interval=0.5,
        message=lambda: "still waiting for " + ", ".join(pending),
    )


def down(paths: StackPaths, timeout: float = 60.0) -> bool:
    """Stop every program and supervisord itself; False if it was not running."""
    from oms.services.manager import STATE_FILE

    if not supervisord_up(paths):
        with contextlib.suppress(FileNotFoundError):
            (paths.run / STATE_FILE).unlink()
        return False
    pid = int(paths.pidfile.read_text().strip())
    rpc(paths).shutdown()

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False

    eventually(gone, timeout=timeout, interval=0.05, max_interval=0.5, message=f"supervisord pid {pid} exit")
    prefix = read_stack(paths).get("prefix")
    if prefix:  # every program is gone: remove this stack's segments whose creator and parties are dead
        subprocess.run(
            [str(VENV_BIN / "oms"), "shm", "gc", "--prefix", f"{prefix}.", "--rate-budgets"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    with contextlib.suppress(FileNotFoundError):
        (paths.run / STATE_FILE).unlink()
    return True


# ---- CLI ----------------------------------------------------------------------------------------
def _paths(args: argparse.Namespace) -> StackPaths:
    return StackPaths(Path(args.root).absolute())


def cmd_up(args: argparse.Namespace) -> int:
    from oms.cli._stackview import print_status

    if args.live:
        os.environ["OMS_VENUES__MODE"] = '"live"'
    stack = up(_paths(args), args.config, args.monitor_port, args.prefix, gateway_port=args.gateway_port)
    print_status(_paths(args), stack)
    return 1 if stack.get("start_errors") else 0


def cmd_down(args: argparse.Namespace) -> int:
    was = down(_paths(args))
    print("stack stopped" if was else f"stack was not running (no supervisord at {_paths(args).sock})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from oms.cli._stackview import print_status

    paths = _paths(args)
    if not supervisord_up(paths):
        print(f"stack is not up (no supervisord at {paths.sock}); start it with `oms up`")
        return 3
    return print_status(paths, read_stack(paths), as_json=args.json)


def cmd_top(args: argparse.Namespace) -> int:
    from oms.monitor.dashboard import run_top

    url = args.url or read_stack(_paths(args)).get("monitor_url")
    if not url:
        raise OmsError("no monitor URL: the stack is not up here (run `oms up`) or pass --url http://...")
    return run_top(url, once=args.once, interval=args.interval)


def cmd_run(args: argparse.Namespace) -> int:
    from oms.cli._stackview import demo_flow, print_status, wait_healthy
    from oms.monitor.dashboard import run_top

    paths = _paths(args)
    if args.live:
        os.environ["OMS_VENUES__MODE"] = '"live"'
    stack = up(paths, args.config, args.monitor_port, args.prefix, gateway_port=args.gateway_port)
    print_status(paths, stack)
    wait_healthy(stack["monitor_url"], timeout=60)
    demo_flow(paths, stack)
    print("opening `oms top` (Ctrl-C leaves the stack running; `oms down` stops it)")
    with contextlib.suppress(KeyboardInterrupt):
        run_top(stack["monitor_url"], once=False, interval=1.0)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", default=os.environ.get("OMS_ROOT", "."), help="project root holding var/")

    for name, func, doc in (
        ("up", cmd_up, "render supervisord.conf for this machine and start the whole stack"),
        ("run", cmd_run, "up, wait until healthy, a demo order flow, then `oms top`"),
    ):
        p = sub.add_parser(name, help=doc, description=doc)
        common(p)
        p.add_argument("--config", default=os.environ.get("OMS_CONFIG"), help="configs/oms.toml path")
        p.add_argument("--monitor-port", type=int, default=None, help="override [monitor].port (0 = free)")
        p.add_argument("--gateway-port", type=int, default=None, help="override [ports].gateway (0 = free)")
        p.add_argument(
            "--prefix", default=os.environ.get("OMS_SHM_PREFIX"), help="override [node].shm_prefix"
        )
        p.add_argument(
            "--live",
            action="store_true",
            help='no simulators: URLs from configs/exchanges, keys from [secrets] ([venues] mode = "live")',
        )
        p.set_defaults(func=func)
    p = sub.add_parser("down", help="stop every program and supervisord")
    common(p)
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="table of programs: pid, core, state, uptime, ring depths")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("top", help="live dashboard from the monitor: venues, orders/s, latencies, PnL")
    common(p)
    p.add_argument("--url", default=None, help="monitor base URL (default: from var/run/stack.json)")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--interval", type=float, default=1.0, help="refresh seconds")
    p.set_defaults(func=cmd_top)
