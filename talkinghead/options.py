"""Options declared once: a dataclass field carries its command-line flag and help beside
its default, and every front end reads them from there (the CLI's parser is generated
from them, the app and `batch` take their defaults and checks). A command whose default
differs (live smooths more) passes an instance holding its own defaults.

    expressiveness: float = option(1.0, "scale of the driven AUs")
    options = from_args(PostOptions(), args)   # after add_options(parser, "expression", PostOptions())
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from talkinghead.errors import UserError


@dataclass(frozen=True)
class Flag:
    """How a field appears on the command line."""

    help: str | Callable[[], str]  # a callable when the text depends on what is registered
    flag: str | None = None  # default: --field-name (--no-field-name for a field that defaults to True)
    metavar: str | None = None
    choices: Callable[[], Iterable[str]] | tuple[str, ...] | None = None
    parse: Callable[[Any], Any] | None = None  # the argument's text -> the field's value (ValueError: bad input)
    repeat: bool = False  # the flag may be given several times (`parse` gets the list)
    show_default: bool = True  # append "(default X)" to the help
    const: str | None = None  # the flag may be given without a value, meaning this one


def option(
    default: Any = dataclasses.MISSING, help: str = "", *, factory: Callable[[], Any] | None = None, **flag: Any
) -> Any:
    """A dataclass field with its command-line form (see `Flag`)."""
    meta = {"cli": Flag(help, **flag)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flags(options: object, names: Iterable[str] | None = None) -> list[tuple[dataclasses.Field, Flag]]:
    """The fields of a dataclass (instance or class) that have a command-line form."""
    wanted = None if names is None else set(names)
    return [
        (f, f.metadata["cli"])
        for f in dataclasses.fields(options)
        if "cli" in f.metadata and (wanted is None or f.name in wanted)
    ]


def flag_name(field: dataclasses.Field, spec: Flag, default: Any) -> str:
    if spec.flag is not None:
        return spec.flag
    name = field.name.replace("_", "-")
    return f"--no-{name}" if default is True else f"--{name}"


def add_options(
    parser: argparse.ArgumentParser, title: str, defaults: object, names: Iterable[str] | None = None
) -> None:
    """An argument group with the flags of `defaults`' fields (all, or `names`), their
    defaults taken from `defaults` (an instance)."""
    group = parser.add_argument_group(title)
    for field, spec in flags(defaults, names):
        default = getattr(defaults, field.name)
        kwargs: dict[str, Any] = {"dest": field.name, "help": spec.help() if callable(spec.help) else spec.help}
        if str(field.type).startswith("bool") and spec.parse is None:
            kwargs |= {"action": "store_false" if default is True else "store_true", "default": default}
        else:
            choices = spec.choices() if callable(spec.choices) else spec.choices
            kwargs |= {
                "default": None if spec.parse else default,
                "metavar": spec.metavar,
                "choices": list(choices) if choices is not None else None,
            }
            if spec.repeat:
                kwargs["action"] = "append"
            elif spec.const is not None:
                kwargs |= {"nargs": "?", "const": spec.const}
            elif spec.parse is None and default is not None and not isinstance(default, str):
                kwargs["type"] = type(default)
            elif spec.parse is None and default is None:
                kwargs["type"] = _annotated_type(field)
            if spec.show_default and default is not None and spec.parse is None:
                kwargs["help"] += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
        group.add_argument(flag_name(field, spec, default), **kwargs)


def _annotated_type(field: dataclasses.Field) -> Callable[[str], Any]:
    """The argument type of an Optional field from its annotation ('int | None' -> int)."""
    text = str(field.type)
    for name, kind in (("int", int), ("float", float)):
        if text.startswith(name):
            return kind
    return str


def from_args(defaults: Any, args: argparse.Namespace, **values: Any) -> Any:
    """A copy of `defaults` with the parsed arguments of its fields (and `values`); a value
    its `parse` refuses becomes a one-line UserError."""
    for field, spec in flags(defaults):
        if not hasattr(args, field.name) or field.name in values:
            continue
        value = getattr(args, field.name)
        if spec.parse is not None:
            if value is None:
                continue
            try:
                value = spec.parse(value)
            except ValueError as e:
                raise UserError(str(e)) from None
        values[field.name] = value
    return dataclasses.replace(defaults, **values)
