"""Registries that ``surveyengine_register_*`` hooks fill with components."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from .errors import PluginError

T = TypeVar("T")
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Registry(Generic[T]):
    """Components of one kind, by id. ``add`` checks the protocol and refuses duplicate ids."""

    def __init__(self, kind: str, protocol: type) -> None:
        self.kind = kind
        self.protocol = protocol
        self._components: dict[str, type[T]] = {}
        self._owners: dict[str, str] = {}

    def add(self, component: type[T]) -> type[T]:
        owner = _calling_plugin()
        ident = getattr(component, "id", None)
        name = getattr(component, "__name__", repr(component))
        if not isinstance(ident, str) or not _ID.match(ident):
            raise PluginError(f"plugin {owner}: {self.kind} {name} needs an 'id' in kebab-case, found {ident!r}")
        missing = [
            attr for attr in getattr(self.protocol, "__protocol_attrs__", _protocol_attrs(self.protocol))
            if not hasattr(component, attr)
        ]
        if missing:
            raise PluginError(
                f"plugin {owner}: {self.kind} '{ident}' ({name}) lacks {', '.join(sorted(missing))} "
                f"required of a {self.protocol.__name__}"
            )
        if ident in self._components:
            raise PluginError(
                f"{self.kind} id '{ident}' is registered twice: by plugin {self._owners[ident]} and by plugin {owner}"
            )
        self._components[ident] = component
        self._owners[ident] = owner
        return component

    def get(self, ident: str) -> type[T]:
        try:
            return self._components[ident]
        except KeyError:
            known = ", ".join(sorted(self._components)) or "none"
            raise PluginError(f"unknown {self.kind} '{ident}'; installed: {known}") from None

    def owner(self, ident: str) -> str:
        return self._owners[ident]

    def __contains__(self, ident: object) -> bool:
        return ident in self._components

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._components))

    def __len__(self) -> int:
        return len(self._components)

    def items(self) -> list[tuple[str, type[T]]]:
        return sorted(self._components.items())


def _protocol_attrs(protocol: type) -> set[str]:
    attrs: set[str] = set()
    for base in protocol.__mro__:
        if base.__name__ in ("Protocol", "Generic", "object"):
            continue
        attrs.update(getattr(base, "__annotations__", {}))
        attrs.update(k for k, v in vars(base).items() if callable(v) and not k.startswith("_"))
    return attrs


def _calling_plugin() -> str:
    """The plugin whose hook implementation is running, found from the call stack."""
    from .plugins import plugin_for_code

    frame: Any = sys._getframe(2)
    while frame is not None:
        name = plugin_for_code(frame.f_code)
        if name is not None:
            return name
        frame = frame.f_back
    return "<direct call>"
