"""Validation of URL query parameters, which anyone can edit by hand or send in a hostile link.

A page declares a small schema (parameter -> ``ParamSpec``); ``validate_query_params``
keeps the values that fit, and returns a notice for every one it had to drop, so the page
can say "ignored ... from the link" instead of failing or silently showing something else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_PARAM_CHARS = 2_000  # longer values are dropped before any parsing


@dataclass(frozen=True)
class ParamSpec:
    """What one query parameter may hold: a choice, an int or float range, a bool, or free text."""

    kind: str  # "choice" | "int" | "float" | "bool" | "text"
    choices: Sequence[str] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_chars: int = 200


def _display(value: str) -> str:
    """A short, printable rendering of a hostile value for a notice (never rendered as HTML)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in value)
    return clean[:40] + ("..." if len(clean) > 40 else "")


def _check_range(number: float, spec: ParamSpec) -> bool:
    if spec.minimum is not None and number < spec.minimum:
        return False
    return not (spec.maximum is not None and number > spec.maximum)


def parse_param(raw: str, spec: ParamSpec) -> object:
    """Parse one raw value by its spec; raises ``ValueError`` when it does not fit."""
    if len(raw) > MAX_PARAM_CHARS:
        raise ValueError("too long")
    if spec.kind == "choice":
        if raw not in spec.choices:
            raise ValueError("not one of the choices")
        return raw
    if spec.kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError("not true/false")
    if spec.kind == "int":
        number = int(raw.strip())
        if not _check_range(number, spec):
            raise ValueError("out of range")
        return number
    if spec.kind == "float":
        number_f = float(raw.strip())
        if not math.isfinite(number_f) or not _check_range(number_f, spec):
            raise ValueError("out of range")
        return number_f
    if spec.kind == "text":
        if len(raw) > spec.max_chars:
            raise ValueError("too long")
        return raw
    raise ValueError(f"unknown parameter kind {spec.kind}")


def validate_query_params(
    params: Mapping[str, str], schema: Mapping[str, ParamSpec]
) -> tuple[dict[str, object], list[str]]:
    """Split query parameters into valid values and notices about the ones dropped.

    Parameters the schema does not know are left alone (other pages' and Streamlit's own).
    """
    valid: dict[str, object] = {}
    notices: list[str] = []
    for name, spec in schema.items():
        if name not in params:
            continue
        raw = params[name]
        try:
            valid[name] = parse_param(str(raw), spec)
        except (ValueError, TypeError, OverflowError):
            allowed = _describe(spec)
            notices.append(f"Ignored '{name}={_display(str(raw))}' from the link: {allowed}.")
    return valid, notices


def _describe(spec: ParamSpec) -> str:
    if spec.kind == "choice":
        return "expected one of " + ", ".join(spec.choices)
    if spec.kind in ("int", "float"):
        return f"expected a number from {spec.minimum:g} to {spec.maximum:g}" if spec.minimum is not None and spec.maximum is not None else "expected a number"
    if spec.kind == "bool":
        return "expected true or false"
    return f"expected text of at most {spec.max_chars} characters"
