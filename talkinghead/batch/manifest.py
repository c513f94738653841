"""The batch manifest: a CSV with a header or JSONL, one job a row. Fields: `photo`, `audio`
and/or `au_csv`, optional `output` (a file name inside OUTDIR), and any of `render`'s
options named as its long flags with underscores (`generator`, `emotion`, `size`, `fps`,
`seed`, `no_blinks`, ...), parsed by render's own option declarations, so names, defaults
and checks are render's. Relative paths are relative to the manifest.

A row that cannot be a job (an unknown field, a value render refuses, two jobs with one
output, an output outside OUTDIR) is a manifest error: all are reported, each with its
line, before anything renders. A missing or unreadable input is not: that job fails when
it runs, and the others go on.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from talkinghead.commands.render import RenderOptions, add_render_options, render_options
from talkinghead.errors import UserError
from talkinghead.io.video import VIDEO_SUFFIXES

INPUTS = ("photo", "audio", "au_csv")
BATCH_LEVEL = ("save_aus", "quiet")  # render's options that a batch sets for all its jobs, not per row
TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass
class BatchJob:
    line: int  # the manifest line the row starts on
    row: dict  # the row as written
    photo: Path
    audio: Path | None
    au_csv: Path | None
    output: str  # relative to OUTDIR
    options: RenderOptions = field(repr=False)

    @property
    def inputs(self) -> dict[str, Path]:
        return {k: p for k, p in (("photo", self.photo), ("audio", self.audio), ("au_csv", self.au_csv)) if p}


class _Refusing(argparse.ArgumentParser):
    """render's options as a parser that raises instead of exiting."""

    def error(self, message: str):  # noqa: ANN201 - never returns
        raise ValueError(message)


def long_flag(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def render_parser() -> _Refusing:
    parser = _Refusing(prog="batch", add_help=False)
    add_render_options(parser, speech=True)
    return parser


def option_flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Field name -> render's option (its long flag with underscores), batch-level ones out."""
    flags = {}
    for action in parser._actions:
        name = long_flag(action).lstrip("-").replace("-", "_")
        if action.dest not in BATCH_LEVEL:
            flags[name] = action
    return flags


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], list[str] | None]:
    """(line, row) of a CSV with a header, or of JSONL (`.jsonl`, `.json`: one object a
    line); and the CSV's header (None for JSONL)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ManifestErrors([f"line {n}: not JSON ({e.msg})"]) from None
                if not isinstance(row, dict):
                    raise ManifestErrors([f"line {n}: a job is a JSON object, got {type(row).__name__}"])
                rows.append((n, row))
        return rows, None
    reader = csv.DictReader(text.splitlines(keepends=True))
    rows, line = [], 1
    for row in reader:
        if None in row:
            raise ManifestErrors([f"line {line + 1}: more values than the header has columns"])
        rows.append((line + 1, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}))
        line = reader.line_num
    return rows, [k.strip() for k in reader.fieldnames or []]


class ManifestErrors(UserError):
    """Every manifest error, one line each (the CLI prints each and exits 2)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _argv(row: dict, flags: dict[str, argparse.Action]) -> list[str]:
    """A row's options as render's command line (ValueError for a value that cannot be one)."""
    argv = []
    for name, value in row.items():
        if name in INPUTS or name == "output" or value is None or value == "":
            continue
        action = flags[name]
        flag = long_flag(action)
        if action.nargs == 0:  # a switch: --crop-only, --no-blinks, --neutral, --lite
            text = str(value).lower()
            if text not in TRUE + FALSE:
                raise ValueError(f"{name} takes true or false, got {value!r}")
            argv += [flag] if text in TRUE else []
        else:
            for item in value if isinstance(value, list) else [value]:
                argv += [flag, str(item)]
    return argv


def read_manifest(path: str | Path, outdir: str | Path) -> list[BatchJob]:
    """The manifest's jobs, or ManifestErrors with every error found."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"manifest not found: {path}")
    outdir, base = Path(outdir).resolve(), path.resolve().parent
    parser = render_parser()
    flags = option_flags(parser)
    jobs, errors, outputs = [], [], {}
    known = set(INPUTS) | {"output"} | set(flags)
    rows, header = read_rows(path)
    if header is not None and set(header) - known:  # a CSV's unknown column: once, on its header line
        errors.append(f"line 1: unknown field {', '.join(map(repr, sorted(set(header) - known)))}")
    for line, row in rows:
        unknown = sorted(set(row) - known)
        if unknown and header is None:
            errors.append(f"line {line}: unknown field {', '.join(map(repr, unknown))}")
            continue
        row = {k: v for k, v in row.items() if k in known}
        given = {k: Path(str(row[k])) for k in INPUTS if row.get(k) not in (None, "")}
        if "photo" not in given or not ({"audio", "au_csv"} & set(given)):
            errors.append(f"line {line}: a job needs a photo and an audio or au_csv")
            continue
        try:
            options = replace(render_options(parser.parse_args(_argv(row, flags))), quiet=True)
            options.check()
        except (ValueError, UserError) as e:
            errors.append(f"line {line}: {e}")
            continue
        inputs = {k: p if p.is_absolute() else base / p for k, p in given.items()}
        drive = inputs.get("audio") or inputs["au_csv"]
        output = str(row.get("output") or f"{inputs['photo'].stem}__{drive.stem}.mp4")
        target = (outdir / output).resolve()
        if Path(output).is_absolute() or outdir not in target.parents:
            errors.append(f"line {line}: output {output!r} is not inside the output folder")
            continue
        if target.suffix.lower() not in VIDEO_SUFFIXES:
            errors.append(f"line {line}: output {output!r} must end in {' or '.join(VIDEO_SUFFIXES)}")
            continue
        if target in outputs:
            errors.append(f"line {line}: output {output!r} is also line {outputs[target]}'s (name one with output)")
            continue
        outputs[target] = line
        rel = str(target.relative_to(outdir))
        jobs.append(BatchJob(line, row, inputs["photo"], inputs.get("audio"), inputs.get("au_csv"), rel, options))
    if errors:
        raise ManifestErrors(errors)
    if not jobs:
        raise UserError(f"manifest {path} has no jobs")
    return jobs
