"""Validation of everything a user controls: text, images, configs and URL query parameters.

Each validator either returns a clean value or raises ``InputError`` (a ``ValueError``)
whose message is one line telling the user what to change, ready to show as is.
"""

from __future__ import annotations


class InputError(ValueError):
    """A user input that cannot be used; ``str(error)`` is the one-line message to show."""
