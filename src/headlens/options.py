"""Typed option classes: one dataclass per group of settings, with defaults, help text and checks,
from which the command-line flags are generated (one definition for the API and the CLI).

A field is declared with :func:`option`; its type follows from its default:

- ``bool``: a switch (``--flag``; ``--no-flag`` when the default is True);
- ``int`` / ``float`` / ``str``: a value (``choices`` restricts a string);
- ``tuple``: a comma-separated list on the command line, a list, a tuple or a comma-separated
  string in Python (``"nsubj,obj"``);
- ``None``: an optional string (``parse`` turns it into the value, e.g. a JSON file into a dict).

``check()`` validates one instance (it runs on construction); a failed check raises ConfigError
naming the option, what it must be and what it got.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace

from .errors import ConfigError, param_error
from .stats.table import CORRECTIONS


DISTRIBUTION_FREE = ("wilcoxon", "sign", "none")


def option(default, help: str, *, flag: str | None = None, choices: tuple | None = None, metavar: str | None = None,
           parse: Callable | None = None, cli: bool = True):
    """A field of an options class. ``flag``: its command-line name (default ``--<field-name>``);
    ``cli=False``: set from Python only (e.g. a value the command line gives another way)."""
    meta = {"help": help, "flag": flag, "choices": choices, "metavar": metavar, "parse": parse, "cli": cli}
    return field(default=default, metadata=meta)


def as_names(value: object) -> tuple[str, ...] | None:
    """A comma-separated string or a list/tuple of strings as a tuple of names (blanks dropped);
    None when ``value`` is neither."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    return None


def _flag(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


@dataclass(frozen=True)
class Options:
    """Base of every options class (frozen dataclasses whose fields come from :func:`option`)."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in fields(self):
            value, default = getattr(self, f.name), f.default
            parse = f.metadata.get("parse")
            if parse is not None and value is not None:
                object.__setattr__(self, f.name, parse(value))
            elif isinstance(default, tuple) and not (default and not isinstance(default[0], str)):
                names = as_names(value)
                if names is None:
                    raise param_error(owner, f.name, "a comma-separated string or a list of strings", value)
                object.__setattr__(self, f.name, names)
            elif isinstance(default, tuple):  # a tuple of numbers
                numbers = _numbers(value, type(default[0]))
                if numbers is None:
                    raise param_error(owner, f.name, f"comma-separated numbers or a list of {type(default[0]).__name__}", value)
                object.__setattr__(self, f.name, numbers)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise param_error(owner, f.name, "True or False", value)
            elif isinstance(default, (int, float)):
                kinds = (int, float) if isinstance(default, float) else (int,)
                if isinstance(value, bool) or not isinstance(value, kinds):
                    raise param_error(owner, f.name, f"a {type(default).__name__}", value)
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise param_error(owner, f.name, f"one of {choices}", getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """Validate the values together; raise ConfigError. Subclasses extend it."""

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes):
        return replace(self, **changes)

    @classmethod
    def coerce(cls, value, owner: str, name: str):
        """``value`` as an instance: an instance, a dict of its fields, or None (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {f.name for f in fields(cls)})
            if unknown:
                raise ConfigError(f"{owner}: {name} has no option {', '.join(map(repr, unknown))}; "
                                  f"it has {', '.join(f.name for f in fields(cls))}.")
            return cls(**value)
        raise param_error(owner, name, f"a {cls.__name__}, a dict of its fields or None", value)

    @classmethod
    def add_arguments(cls, parser, title: str | None = None, skip: tuple[str, ...] = (), prefix: str = "") -> None:
        """Add one flag per field to ``parser`` (an argument group when ``title`` is given); ``prefix``
        keeps the destinations of several classes on one parser apart (read back with the same one)."""
        target = parser.add_argument_group(title) if title else parser
        for f in fields(cls):
            if not f.metadata.get("cli", True) or f.name in skip:
                continue
            help_text, default = f.metadata.get("help", ""), f.default
            kw: dict = {"dest": prefix + f.name, "help": help_text}
            if isinstance(default, bool):
                if default:
                    target.add_argument("--no-" + _flag(f)[2:], action="store_false", **kw)
                else:
                    target.add_argument(_flag(f), action="store_true", **kw)
                continue
            if isinstance(default, tuple):
                kw["default"] = ",".join(str(v) for v in default)
                kw["help"] = f"{help_text} (comma-separated; default: {kw['default'] or 'none'})"
            elif default is None or default is MISSING:
                kw["default"] = None
            else:
                kw["default"], kw["type"] = default, type(default)
                kw["help"] = f"{help_text} (default: {default})"
            if f.metadata.get("choices"):
                kw["choices"] = f.metadata["choices"]
            if not f.metadata.get("choices"):
                kw["metavar"] = f.metadata.get("metavar") or f.name.upper()
            target.add_argument(_flag(f), **kw)

    @classmethod
    def from_args(cls, args: argparse.Namespace, prefix: str = "", **overrides):
        """An instance from parsed flags (fields without a flag keep their defaults)."""
        values = {f.name: getattr(args, prefix + f.name) for f in fields(cls)
                  if f.metadata.get("cli", True) and hasattr(args, prefix + f.name)}
        return cls(**{**values, **overrides})


def _numbers(value: object, kind: type) -> tuple | None:
    if isinstance(value, str):
        try:
            return tuple(kind(v) for v in value.split(",") if v.strip())
        except ValueError:
            return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return tuple(kind(v) for v in value)
    return None


@dataclass(frozen=True)
class SeedOptions(Options):
    """The random seed of whatever an analysis draws (resamples, permutations, initial weights)."""

    seed: int = option(0, "random seed (bootstrap resamples, permutations, initial weights)")


@dataclass(frozen=True)
class BootstrapOptions(SeedOptions):
    """The bootstrap intervals' settings (the probes; every statistics class through StatsOptions)."""

    ci: float = option(0.95, "confidence level of the bootstrap intervals")
    n_boot: int = option(2000, "bootstrap resamples of each interval")

    def check(self) -> None:
        if not 0 < self.ci < 1:
            raise param_error(type(self).__name__, "ci", "a float in the range (0, 1)", self.ci)
        if self.n_boot < 1:
            raise param_error(type(self).__name__, "n_boot", "an int >= 1", self.n_boot)


@dataclass(frozen=True)
class StatsOptions(BootstrapOptions):
    """The statistics settings every test of headlens shares (roles, syntax, compare, categories,
    ablation): the one place where alpha, correction, min_n, ci, n_boot and seed are declared."""

    alpha: float = option(0.05, "family-wise (or false-discovery) error rate of each family of tests")
    correction: str = option("fdr_bh", "multiple-comparison correction across each family of tests", choices=CORRECTIONS)
    min_n: int = option(10, "fewer participating sentences: the cell is 'not enough data' (not tested)")
    boot_max_n: int = option(10000, "above this many sentences a confidence interval of a mean is the streamed "
                             "Poisson bootstrap and syntax's bootstrap CIs and p the normal approximation; "
                             "recorded as the CI method of each output")

    def check(self) -> None:
        super().check()
        if not 0 < self.alpha < 1:
            raise param_error(type(self).__name__, "alpha", "a float in the range (0, 1)", self.alpha)
        if self.min_n < 2:
            raise param_error(type(self).__name__, "min_n", "an int >= 2", self.min_n)
        if self.boot_max_n < 2:
            raise param_error(type(self).__name__, "boot_max_n", "an int >= 2", self.boot_max_n)
