"""Validation of URL query parameters, which anyone can edit by hand or send in a hostile link.

A page declares a small schema (parameter -> ``ParamSpec``); ``parse_param`` accepts a value
only if it fits. ``ui.share.clean_link`` uses it to drop bad values with a notice, so a page
says "ignored ... from the link" instead of failing or silently showing something else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
