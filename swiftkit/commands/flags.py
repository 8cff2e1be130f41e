"""`swiftkit flags [PATTERN]`: the installed ms-swift's `swift sft` flags with their type and
default, from the reader `validate` uses (msswift/sftflags). `swift sft --help` cannot stand in:
from 3.12 to 4.6 it prints only --tuner_backend."""

from __future__ import annotations

import fnmatch

import click

from swiftkit.errors import did_you_mean
from swiftkit.msswift import compat, sftflags
from swiftkit.msswift.command import option


def matches(name: str, pattern: str | None) -> bool:
    """A glob (`lora_*`) when the pattern has * ? or [, else a case-insensitive substring."""
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern.lower())
    return pattern.lower() in name


@click.command("flags")
@click.argument("pattern", metavar="[PATTERN]", required=False)
def flags_command(pattern: str | None) -> int:
    """List the installed ms-swift's `swift sft` flags with type and default (the names a
    recipe's [train] keys must match). PATTERN: a substring, or a glob such as 'lora_*'."""
    names, source = sftflags.known_flags()
    details = sftflags.flag_details() or {}
    wanted = sorted(n for n in names if matches(n, pattern))
    pattern_name = (pattern or "").lstrip("-")
    if not wanted:
        click.echo(f"no `swift sft` flag matches '{pattern}' ({source})")
        version = compat.target_version()
        renamed = compat.flag_name(pattern_name, version)
        if renamed != pattern_name:
            why = compat.rename_note(pattern_name, version)
            click.echo(f"  --{pattern_name} is --{renamed} here: {why}")
        near = did_you_mean(pattern_name, sorted(names))
        if near:
            click.echo(f"  {near}")
        return 1
    width = max(len(n) for n in wanted)
    types = [details[n].type if n in details else "?" for n in wanted]
    twidth = max(len(t) for t in types)
    for name, typ in zip(wanted, types, strict=True):
        default = details[name].default if name in details else "?"
        click.echo(f"{option(name):<{width + 2}}  {typ:<{twidth}}  default {default}")
    version = compat.swift_version() or "not installed"
    click.echo(f"{len(wanted)} of {len(names)} flags, ms-swift {version} ({source})")
    return 0
