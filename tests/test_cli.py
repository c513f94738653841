"""The command line as a whole: version, usage on typos, one option group per concern, and
the layering of the three rooms (checked on the source, so a sideways import fails here
before it spreads)."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from talkinghead.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
# The front ends compose every command; commands (talkinghead/commands/) compose the library
# rooms and never import each other; the library never imports a command or a front end.
FRONT_ENDS = ("cli", "app", "live", "evaluation", "batch")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("talkinghead ")


@pytest.mark.parametrize("command", ["render", "edit", "live", "track"])
def test_typo_shows_the_sub_command_usage(command, capsys):
    with pytest.raises(SystemExit) as e:
        main(
            [command, "--photo", "p.jpg", "--no-such-option"]
            if command != "track"
            else [command, "v.mp4", "-o", "x.csv", "--no-such-option"]
        )
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert f"usage: talkinghead {command}" in err and f"talkinghead {command}: error: unrecognized arguments" in err


def test_every_command_shares_the_option_groups():
    """A flag that several commands take is declared once: same help, same default."""
    flags: dict[str, dict[str, tuple]] = {}
    for name, parser in subcommands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                flags.setdefault(flag, {})[name] = (action.help, action.default)
    for flag in (
        "--generator",
        "--checkpoint",
        "--device",
        "--expressiveness",
        "--emotion",
        "--au",
        "--neutral",
        "--face-index",
        "--no-blinks",
        "--no-idle",
    ):
        assert len(flags[flag]) >= 2, flag
        assert len(set(flags[flag].values())) == 1, (flag, flags[flag])
    assert {"render", "reenact", "demo", "edit", "live"} <= set(flags["--generator"])


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_layering():
    for room in ("actionunits", "gath", "audio2au"):
        for path in (REPO / room).rglob("*.py"):
            bad = {m for m in imports(path) if m.split(".")[0] == "talkinghead"}
            assert not bad, f"{path.relative_to(REPO)} imports {bad}: {room} must not know talkinghead"
    for a, b in (("audio2au", "gath"), ("gath", "audio2au")):
        for path in (REPO / a).rglob("*.py"):
            assert not {m for m in imports(path) if m.split(".")[0] == b}, f"{path.relative_to(REPO)} imports {b}"
    for path in (REPO / "talkinghead").rglob("*.py"):
        rel = path.relative_to(REPO / "talkinghead").with_suffix("")
        own = rel.parts[0]
        if own in ("cli", "app"):
            continue  # the two front-ends (command line, browser app) compose every command
        for module in imports(path):
            parts = module.split(".")
            if parts[0] != "talkinghead" or len(parts) < 2:
                continue
            if own == "commands" and parts[1] == "commands" and parts[2:3] != list(rel.parts[1:2]):
                pytest.fail(
                    f"talkinghead/{rel}.py imports {module}: commands do not import each other; a shared "
                    f"helper belongs in the module that owns its concept"
                )
            if own not in ("commands", *FRONT_ENDS) and parts[1] in ("commands", *FRONT_ENDS):
                pytest.fail(
                    f"talkinghead/{rel}.py imports {module}: the library does not import commands or front ends"
                )
