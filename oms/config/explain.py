"""Config room: turn a msgspec validation error into `[section].key = value must be ...` with hints.

Touches nothing. Walks the target type along the error's path to name the expected type in words, the
allowed values of a Literal, and the closest known keys (difflib) for an unknown key.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any

import msgspec


def toml_repr(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_repr(v)}" for k, v in value.items()) + " }"
    return str(value)


_FRIENDLY = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "decimal": 'a decimal number (e.g. "0.001")',
    "null": "left out",
    "int | null": "an integer (or left out)",
}


def _friendly(t: str) -> str:
    return _FRIENDLY.get(t, f"of type {t}")


def _parts(path: str) -> list[str | int]:
    out: list[str | int] = []
    for m in re.finditer(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]", path.removeprefix("$")):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) != "...":
            out.append(int(m.group(2)))
    return out


def _dotted(parts: list[str | int]) -> str:
    s = ""
    for p in parts:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s


def _value_at(raw: Any, parts: list[str | int]) -> Any:
    for p in parts:
        try:
            raw = raw[p]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _unwrap(tp: Any) -> Any:

    if typing.get_origin(tp) is typing.Union or type(tp).__name__ == "UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _type_at(tp: Any, parts: list[str | int]) -> Any:
    """The type reached by following `parts` (keys and list indexes) from type `tp`, or None."""

    for p in parts:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if origin in (list, dict):
            tp = typing.get_args(tp)[-1]
            if isinstance(p, int) or origin is dict:
                continue
            tp = _unwrap(tp)
        if isinstance(p, int):
            return None
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            tp = typing.get_type_hints(tp).get(p)
        else:
            return None
    return _unwrap(tp)


def _fields_at(tp: Any, parts: list[str | int]) -> list[str]:
    """Field names of the Struct reached by following `parts` from type `tp` (for close matches)."""

    t = _type_at(tp, parts)
    if typing.get_origin(t) in (list, dict):
        t = _unwrap(typing.get_args(t)[-1])
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return [f.name for f in msgspec.structs.fields(t)]
    return []


def explain(err: msgspec.ValidationError, raw: Any, tp: Any, prefix: str) -> str:
    """Turn a msgspec error into `<prefix>.key = value must be ...` with close-match hints."""
    text = str(err)
    m = re.match(r"^(.*?)(?: - at `(\$[^`]*)`)?$", text, re.S)
    msg, path = (m.group(1), m.group(2) or "$") if m else (text, "$")
    parts = _parts(path)
    key = _dotted(parts)
    where = f"{prefix}.{key}" if key else prefix
    if um := re.match(r"Object contains unknown field `([^`]+)`", msg):
        bad = um.group(1)
        known = _fields_at(tp, parts)
        close = difflib.get_close_matches(bad, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"{where}.{bad} is not a known key{hint} (known keys: {', '.join(known) or 'none'})"
    if mm := re.match(r"Object missing required field `([^`]+)`", msg):
        return f"{where}.{mm.group(1)} is missing; add `{mm.group(1)} = ...`"
    value = _value_at(raw, parts)
    if em := re.match(r"Expected `([^`]+)`, got `([^`]+)`", msg):
        return f"{where} = {toml_repr(value)} must be {_friendly(em.group(1))} (got {em.group(2)})"
    if msg.startswith("Invalid enum value"):
        import typing

        options = ", ".join(map(toml_repr, typing.get_args(_type_at(tp, parts))))
        return f"{where} = {toml_repr(value)} must be one of {options or '(see docs/foundation.md)'}"
    return f"{where} = {toml_repr(value)}: {msg}"
