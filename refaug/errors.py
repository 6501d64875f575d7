"""The project's exceptions. Every message says what went wrong, where, and how to fix it."""

from __future__ import annotations


class RefaugError(Exception):
    """Base class of every error refaug raises on purpose."""


class DataError(RefaugError, ValueError):
    """A dataset file or row is malformed.

    Args:
        message: what is wrong.
        file: the file that holds the bad data, when there is one.
        row: the row, ref id or index inside that file, when there is one.
        fix: what the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: object | None = None,
        fix: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.row = row
        self.fix = fix
        parts = []
        if file is not None:
            parts.append(str(file))
        if row is not None:
            parts.append(str(row))
        where = ", ".join(parts)
        text = f"{where}: {message}" if where else message
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


class TemplateError(RefaugError, ValueError):
    """A prompt template cannot be found, parsed or rendered."""


class BackendError(RefaugError, RuntimeError):
    """A model backend failed in a way retrying will not mend (bad configuration, missing package)."""


class ConfigError(RefaugError, ValueError):
    """A configuration value is invalid."""


def check_choice(name: str, value: object, choices: tuple | list | set | frozenset) -> None:
    """Raise ``ValueError`` naming ``name`` and listing the valid ``choices`` when ``value`` is not one.

    Example:
        >>> check_choice("method", "centroid", ("centroid", "radius"))
    """
    if value not in choices:
        valid = ", ".join(repr(c) for c in sorted(choices, key=str))
        raise ValueError(f"{name}={value!r} is not valid; choose one of {valid}")
