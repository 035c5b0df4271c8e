"""The registry of analyses (docs/extending.md): every entry's parts exist, its subcommands are in
``headlens --help``, and its options and settings are typed Options whose generated flags parse
back to the defaults."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from dataclasses import fields

import pytest

import headlens.analyses
from headlens.analyses.base import part
from headlens.analyses.registry import ANALYSES
from headlens.cli import build_parser
from headlens.options import Options, StatsOptions

PARTS = ("collect", "finalize", "analyse", "save", "view", "figures", "command")
ENTRIES = sorted(ANALYSES)


def folder_of(analysis) -> str:
    """The package (``headlens.analyses.<folder>``) whose ``__init__`` builds ``analysis``."""
    for m in pkgutil.iter_modules(headlens.analyses.__path__):
        if m.ispkg:
            module = importlib.import_module(f"headlens.analyses.{m.name}")
            if any(v is analysis for v in vars(module).values()):
                return module.__name__
    raise AssertionError(f"no folder of headlens/analyses/ builds {analysis.name!r}")


@pytest.mark.parametrize("name", ENTRIES)
def test_every_named_part_resolves_in_its_folder(name):
    a = ANALYSES[name]
    folder = folder_of(a)
    for attr in PARTS:
        value = getattr(a, attr)
        if value is None:
            continue
        assert callable(value), f"{name}.{attr} is not callable: {value!r}"
        if isinstance(value, part):
            assert value.package == folder, f"{name}.{attr} lives outside the analysis' folder: {value!r}"
            assert callable(value.resolve()), f"{name}.{attr}: {value!r} does not resolve to a function"


def _subcommands(command) -> list[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    command(sub)
    return list(sub.choices)


def test_every_command_is_in_headlens_help():
    text = build_parser().format_help()
    for name, a in ANALYSES.items():
        if a.command is None:
            continue
        names = _subcommands(a.command)
        assert names, f"{name}'s command adds no subcommand"
        for command in names:
            assert command in text, f"{name}'s subcommand {command!r} is not in `headlens --help`"


CLASSES = sorted({(n, attr, getattr(a, attr)) for n, a in ANALYSES.items() for attr in ("options", "settings")
                  if getattr(a, attr) is not None}, key=lambda t: (t[0], t[1]))


def test_every_analysis_with_statistics_has_settings():
    for name, a in ANALYSES.items():
        if a.analyse is not None and name not in ("patterns",):  # patterns: thresholds given as --set NAME=VALUE
            assert a.settings is not None, f"{name} has a statistics step but no settings class"


@pytest.mark.parametrize("name, attr, cls", CLASSES, ids=[f"{n}.{a}" for n, a, _ in CLASSES])
def test_options_classes_are_typed_documented_and_round_trip_their_flags(name, attr, cls):
    assert isinstance(cls, type) and issubclass(cls, Options), f"{name}.{attr} = {cls!r} is not an Options subclass"
    assert cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("), f"{cls.__name__} has no docstring"
    for f in fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text (declare it with option())"
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    assert cls.from_args(parser.parse_args([])) == cls(), f"{cls.__name__}'s flags do not parse back to its defaults"


def test_shared_statistics_flags_keep_their_names():
    """--alpha, --correction, --min-n, --n-boot, --seed and --test are the flags users know."""
    parser = build_parser()
    for argv in (["syntax", "R"], ["compare", "A", "B", "--test", "sign"], ["roles", "R", "--test", "none"]):
        args = parser.parse_args([*argv, "--alpha", "0.01", "--correction", "holm", "--min-n", "5", "--n-boot", "50",
                                  "--seed", "3"])
        assert (args.alpha, args.correction, args.min_n, args.n_boot, args.seed) == (0.01, "holm", 5, 50, 3)
    assert parser.parse_args(["compare", "A", "B", "--test", "sign"]).distribution_free == "sign"


def test_statistics_settings_share_one_class():
    stats = {f.name for f in fields(StatsOptions)}
    for name in ("roles", "syntax", "compare", "categories", "ablation"):
        cls = ANALYSES[name].settings
        assert issubclass(cls, StatsOptions), f"{name}'s settings restate the shared statistics settings"
        own = {f.name for f in fields(cls)} - stats
        assert not own & {"alpha", "correction", "min_n", "ci", "n_boot", "seed"}, own


def test_bad_settings_name_the_option():
    from headlens.errors import ConfigError

    with pytest.raises(ConfigError, match=r"The 'correction' parameter of ChangeSettings must be one of"):
        ANALYSES["compare"].settings(correction="fdr")
    with pytest.raises(ConfigError, match=r"The 'alpha' parameter of SyntaxSettings must be a float in the range \(0, 1\)"):
        ANALYSES["syntax"].settings(alpha=1.5)
    with pytest.raises(ConfigError, match=r"The 'n_perm' parameter of ClusterSettings must be an int >= 1"):
        ANALYSES["cluster"].settings(n_perm=0)
    with pytest.raises(ConfigError, match=r"The 'features' parameter of ProbeSettings must be one of"):
        ANALYSES["probe"].settings(features="vectors")
    with pytest.raises(ConfigError, match=r"--metrics \['auc'\]: choose from accuracy, f1, mcc"):
        ANALYSES["ablation"].settings(metrics="auc")


def test_the_generated_flags_import_no_statistics_library():
    """The options classes read the statistics constants (CORRECTIONS) without scipy or statsmodels,
    so that `headlens --help` stays fast (BENCH startup_help_vs_bare)."""
    import subprocess
    import sys

    code = ("import sys\nfrom headlens.cli import build_parser\nbuild_parser().format_help()\n"
            "bad = [m for m in ('scipy', 'statsmodels', 'torch', 'transformers') if m in sys.modules]\nassert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
