"""The settings store (global scope only for now; scopes and types come with the language).

A setting may have a validator: ``set twins bogus`` fails at once with the reason instead of
breaking the next ``ifstat``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Validator = Callable[[str], None]


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)
    validators: dict[str, Validator] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        """Store ``value``; an empty value deletes the setting, as in iPXE."""
        if not value:
            self.values.pop(name, None)
            return
        validator = self.validators.get(name)
        if validator is not None:
            validator(value)
        self.values[name] = value

    def clear(self, name: str) -> None:
        self.values.pop(name, None)
