"""The base of every mode that crosses the API or the command line as a plain name (``"erofs"``, ``"qcow2"``).

A ``str`` enum compares equal to its name, so upstream's callers keep passing and comparing strings, while the
library switches on members.  Python 3.11's ``enum.StrEnum`` does the same, but EL 9 runs Python 3.9.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from imgcreate.errors import CreatorError

E = TypeVar("E", bound="StrEnum")


class StrEnum(str, enum.Enum):
    """A mode named by a string: ``str()`` and f-strings give the name (``"qcow2"``, not ``"DiskFormat.QCOW2"``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every member's name, in order: argparse's ``choices`` and error messages."""
        return tuple(str(m.value) for m in cls)

    @classmethod
    def of(cls: type[E], value: str, what: str) -> E:
        """The member named *value* (a member is taken as it is), or one clear CreatorError naming *what* and
        the choices: a mode from an API caller is checked as the command line's are."""
        try:
            return cls(value)
        except ValueError:
            raise CreatorError(f"Unknown {what} '{value}': use one of {', '.join(cls.names())}.") from None
