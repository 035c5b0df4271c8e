"""A module imported on first use, so that importing headlens does not import torch.

The metric modules register their names and descriptions when imported (``headlens metrics``,
the CLI and configuration checks read them) but only their functions use torch. They write
``from ..lazy import torch``: ``torch`` is then a stand-in whose first attribute access imports
the real module and copies its attributes onto the stand-in, so that later accesses are plain
lookups in the stand-in's dictionary (0.3 us against 0.1 us on the module itself, measured with
timeit on ``torch.diagonal``: microseconds per layer for the ~100 accesses of the metrics). Annotations stay strings (``from __future__ import
annotations``); ``isinstance(x, torch.Tensor)`` sees the real class.

The package's layers and which of them may import torch: docs/architecture.md.
"""

from __future__ import annotations

import importlib
import types


_PROBED = frozenset({"__path__", "__file__", "__wrapped__"})


class LazyModule(types.ModuleType):
    """Stands for the module ``name`` until an attribute is read, then behaves as it."""

    def __init__(self, name: str):
        super().__init__(name, f"{name}, imported on first use (headlens.lazy)")
        self._stand_in_target: types.ModuleType | None = None

    def _stand_in_load(self) -> types.ModuleType:
        if self._stand_in_target is None:
            target = importlib.import_module(self.__name__)
            own = {"__name__", "__doc__"}  # and the stand-in's own _stand_in_* names
            self.__dict__.update({k: v for k, v in vars(target).items() if k not in own and not k.startswith("_stand_in_")})
            self._stand_in_target = target
        return self._stand_in_target

    def __getattr__(self, attr: str):
        # only called for what the copy does not hold yet: the first access, or attributes the
        # module adds later (submodules imported afterwards, its own lazy __getattr__); tools that
        # probe globals (doctest, inspect) ask for these, which must not import the module
        if attr in _PROBED:
            raise AttributeError(attr)
        return getattr(self._stand_in_load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self._stand_in_target is not None else "not imported yet"
        return f"<lazy module {self.__name__!r} ({state})>"


_MODULES: dict[str, LazyModule] = {}


def lazy_module(name: str) -> LazyModule:
    """The one stand-in of module ``name`` (shared, so that it is imported and copied once)."""
    if name not in _MODULES:
        _MODULES[name] = LazyModule(name)
    return _MODULES[name]


torch = lazy_module("torch")


def lazy_exports(package: str, where: dict[str, str], exported: list[str]):
    """PEP 562 hooks ``(__getattr__, __dir__)`` for ``package``: each name of ``where`` is read from
    its submodule (``{"Engine": ".engine"}``) when first used, then kept in the package's globals."""
    import sys

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exported))

    return __getattr__, __dir__
