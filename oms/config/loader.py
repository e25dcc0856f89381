"""Config room: load configs/oms.toml and configs/exchanges/*.toml into typed msgspec Structs.

Touches only the files it reads and the `OMS_*__*` environment variables. Sections are discovered: the
core ones (oms/config/core.py) plus every module `oms.<room>.settings` exposing `SECTION`, `Settings`
and optionally `validate(s) -> [(key, value, "must ...")]`. Every problem is reported in the form
`configs/oms.toml: [risk].max_leverage = -3 must be > 0` (file or environment variable, key, value, fix);
an unknown key names the closest known keys. All problems of a file are reported at once.

Environment overrides: `OMS_<SECTION>__<KEY>[__<SUBKEY>...]=<value>` (the value is read as a TOML value,
else as a plain string), e.g. `OMS_SERVICES__NATS__PORT=4222`, `OMS_LOGGING__LEVEL=DEBUG`,
`OMS_EXCHANGES__BINANCE_SPOT__REST_URL=http://127.0.0.1:9001`. `OMS_CONFIG` names the file.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import pkgutil
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

import oms
from oms import log
from oms.config import core
from oms.config.exchange import ExchangeSettings, validate_exchange
from oms.config.explain import explain, toml_repr
from oms.config.model import OmsConfig
from oms.errors import ConfigError

_log = log.get(__name__)
Problems = list[tuple[str, object, str]]
PROJECT_ROOT = Path(oms.__file__).resolve().parent.parent


@dataclass(frozen=True)
class SectionSpec:
    name: str
    type: Any
    validate: Callable[[Any], Problems] | None
    module: str
    default: Callable[[], Any]


def _builtin() -> dict[str, SectionSpec]:
    return {
        "node": SectionSpec(
            "node", core.NodeSettings, core.validate_node, "oms.config.core", core.NodeSettings
        ),
        "logging": SectionSpec(
            "logging", core.LoggingSettings, core.validate_logging, "oms.config.core", core.LoggingSettings
        ),
        "processes": SectionSpec(
            "processes",
            dict[str, core.ProcessSettings],
            core.validate_processes,
            "oms.config.core",
            lambda: dict(core.DEFAULT_PROCESSES),
        ),
        "ports": SectionSpec(
            "ports", core.PortsSettings, core.validate_ports, "oms.config.core", core.PortsSettings
        ),
    }


def discover() -> tuple[dict[str, SectionSpec], dict[str, str]]:
    """All section specs, and the rooms whose settings module failed to import (room -> error)."""
    specs = _builtin()
    broken: dict[str, str] = {}
    for mod in sorted(pkgutil.iter_modules(oms.__path__), key=lambda m: m.name):
        if not mod.ispkg:
            continue
        name = f"oms.{mod.name}.settings"
        try:
            if importlib.util.find_spec(name) is None:
                continue
            m = importlib.import_module(name)
        except Exception as e:  # another room's half-done module must not break everyone's config
            broken[mod.name] = f"{type(e).__name__}: {e}"
            continue
        section, settings = getattr(m, "SECTION", None), getattr(m, "Settings", None)
        if not isinstance(section, str) or settings is None:
            continue
        if section in specs:
            raise ConfigError(f"section [{section}] is claimed by both {specs[section].module} and {name}")
        specs[section] = SectionSpec(section, settings, getattr(m, "validate", None), name, settings)
    return specs, broken


# --- environment overrides -----------------------------------------------------------------------
def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set(d: dict[str, Any], keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        if k not in d and k.replace("_", "-") in d:
            k = k.replace("_", "-")
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise TypeError(k)
    last = keys[-1]
    if last not in d and last.replace("_", "-") in d:
        last = last.replace("_", "-")
    d[last] = value


def env_overrides(env: Mapping[str, str]) -> list[tuple[str, list[str], Any]]:
    """(variable, [section, key, ...], value) for every `OMS_<SECTION>__<KEY>` variable."""
    out = []
    for var, text in sorted(env.items()):
        if not var.startswith("OMS_") or "__" not in var:
            continue
        keys = [k.lower() for k in var[4:].split("__")]
        if any(not k for k in keys) or len(keys) < 2:
            raise ConfigError(
                f"{var}: malformed override; use OMS_<SECTION>__<KEY>=value, e.g. OMS_LOGGING__LEVEL=DEBUG"
            )
        out.append((var, keys, _env_value(text)))
    return out


# --- loading -------------------------------------------------------------------------------------
def find_config(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """The oms.toml to read: `path`, else $OMS_CONFIG, else configs/oms.toml (cwd, then project)."""
    given = str(path) if path else env.get("OMS_CONFIG", "")
    if given:
        p = Path(given)
        if not p.is_file():
            src = "OMS_CONFIG" if not path else "config path"
            raise ConfigError(
                f"{src} {given}: no such file; pass an existing oms.toml (see configs/oms.toml)"
            )
        return p
    for cand in (Path.cwd() / "configs" / "oms.toml", PROJECT_ROOT / "configs" / "oms.toml"):
        if cand.is_file():
            return cand
    return None


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _read_toml(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{_display(p)}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{_display(p)}: cannot read ({e.strerror})") from None


def _convert(raw: Any, spec_type: Any, prefix: str, where: str, errors: list[str]) -> Any | None:
    import typing

    if typing.get_origin(spec_type) is dict and isinstance(raw, dict):  # per entry, so errors name it
        _, vtype = typing.get_args(spec_type)
        out, ok = {}, True
        for k, v in raw.items():
            got = _convert(v, vtype, f"{prefix}.{k}", where, errors)
            ok = ok and got is not None
            out[k] = got
        return out if ok else None
    try:
        return msgspec.convert(raw, spec_type, str_keys=True)  # TOML keys are strings
    except msgspec.ValidationError as e:
        errors.append(f"{where}: {explain(e, raw, spec_type, prefix)}")
        return None


def _report(
    problems: Problems, section_label: str, where_of: Callable[[str], str], errors: list[str]
) -> None:
    for key, value, must in problems:
        shown = value if isinstance(value, str) and value == "<redacted>" else toml_repr(value)
        errors.append(f"{where_of(key)}: {section_label}.{key} = {shown} {must}")


def load(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> OmsConfig:
    """Read, apply environment overrides, convert, validate; one ConfigError lists every problem."""
    env = os.environ if env is None else env
    cfg_path = find_config(path, env)
    raw: dict[str, Any] = _read_toml(cfg_path) if cfg_path else {}
    fname = _display(cfg_path) if cfg_path else "(defaults)"
    specs, broken = discover()
    errors: list[str] = []
    env_src: dict[tuple[str, ...], str] = {}

    exch_raw: dict[str, dict[str, Any]] = {}
    exch_files: dict[str, str] = {}
    node_raw = raw.get("node")
    node_dir = node_raw.get("exchanges_dir", "exchanges") if isinstance(node_raw, dict) else "exchanges"
    exch_dir = (cfg_path.parent if cfg_path else PROJECT_ROOT / "configs") / str(node_dir)
    if exch_dir.is_dir():
        for f in sorted(exch_dir.glob("*.toml")):
            if f.stem.startswith("_"):  # _template.toml and other non-venue files
                continue
            exch_raw[f.stem] = _read_toml(f)
            exch_files[f.stem] = _display(f)

    for var, keys, value in env_overrides(env):
        section = keys[0]
        if section == "exchanges":
            if len(keys) < 3 or keys[1] not in exch_raw:
                known = ", ".join(sorted(exch_raw)) or "none"
                errors.append(
                    f"{var}: no exchange file {keys[1] if len(keys) > 1 else '?'}.toml in "
                    f"{_display(exch_dir)} (known: {known}); use OMS_EXCHANGES__<VENUE_MARKET>__<KEY>"
                )
                continue
            _set(exch_raw[keys[1]], keys[2:], value)
        elif section not in specs:
            close = difflib.get_close_matches(section, list(specs), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            errors.append(f"{var}: no config section [{section}]{hint} (known: {', '.join(sorted(specs))})")
            continue
        else:
            if section not in raw:  # override on top of the section's defaults
                raw[section] = msgspec.to_builtins(specs[section].default(), str_keys=True)
            sec = raw[section]
            if not isinstance(sec, dict):
                errors.append(f"{var}: [{section}] in {fname} is not a table")
                continue
            _set(sec, keys[1:], value)
        env_src[tuple(keys)] = var

    def where(section: str, key: str = "") -> str:
        keyparts = tuple([section, *re.split(r"[.\[\]]+", key.strip("."))]) if key else (section,)
        for n in range(len(keyparts), 1, -1):
            var = env_src.get(tuple(k.replace("-", "_") for k in keyparts[:n]))
            if var:
                return f"{var} (environment)"
        return fname

    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in specs:
            close = difflib.get_close_matches(name, list(specs), n=2)
            hint = f"; did you mean [{'] or ['.join(close)}]?" if close else ""
            extra = f" (oms/{name}/settings.py failed to import: {broken[name]})" if name in broken else ""
            errors.append(
                f"{fname}: [{name}] is not a known section{hint}{extra} (known: {', '.join(sorted(specs))})"
            )
        elif not isinstance(value, dict):
            errors.append(f"{fname}: [{name}] must be a table, not {toml_repr(value)}")
    for name, spec in specs.items():
        if name in raw and isinstance(raw[name], dict):
            before = len(errors)
            sub_errors: list[str] = []
            obj = _convert(raw[name], spec.type, f"[{name}]", fname, sub_errors)
            for e in sub_errors:  # name the env variable when the bad key came from one
                m = re.match(r"^[^:]+: \[[^\]]+\]\.([^ ]+)", e)
                errors.append(e.replace(fname, where(name, m.group(1)), 1) if m else e)
            if obj is None or len(errors) > before:
                continue
        else:
            obj = spec.default()
        if spec.validate is not None:
            probs = [(k.removeprefix(f"{name}."), v, must) for k, v, must in spec.validate(obj)]
            _report(probs, f"[{name}]", lambda k, n=name: where(n, k), errors)
        sections[name] = obj

    exchanges: dict[str, ExchangeSettings] = {}
    for stem, xraw in exch_raw.items():
        xfile = exch_files[stem]
        before = len(errors)
        x = _convert(xraw, ExchangeSettings, "", xfile, errors)
        if x is None:
            errors[before:] = [e.replace(": .", ": ", 1) for e in errors[before:]]
            continue
        probs = validate_exchange(x, stem)
        for key, value, must in probs:
            var = env_src.get(("exchanges", stem, *key.split(".")))
            errors.append(f"{var + ' (environment)' if var else xfile}: {key} = {toml_repr(value)} {must}")
        exchanges[stem] = x

    if errors:
        head = f"{len(errors)} problems in the configuration:\n  " if len(errors) > 1 else ""
        raise ConfigError(head + "\n  ".join(errors))
    root = PROJECT_ROOT
    if cfg_path is not None:
        here = cfg_path.resolve().parent
        root = here.parent if here.name == "configs" else here
    for room, err in broken.items():
        _log.warning("oms/%s/settings.py did not import (%s); its section uses no validation", room, err)
    return OmsConfig(
        path=cfg_path,
        root=root,
        sections=sections,
        exchanges=exchanges,
        overrides={v: ".".join(k) for k, v in env_src.items()},
        skipped_rooms=broken,
    )
