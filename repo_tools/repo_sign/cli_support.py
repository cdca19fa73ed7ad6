"""What every ``repo-sign`` command module shares: passphrases, the workspace, output.

Rules:

- A passphrase (a signer URI's PIN) comes from the environment (see
  ``keys``), else from a hidden prompt on a terminal; without either the
  command stops (PassphraseRequired) rather than wait for input that cannot
  come.
- The workspace is ``--repo`` given to the command, else ``--repo`` given to
  ``repo-sign``, else the current folder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from repo_sign import keys
from repo_sign.errors import PassphraseRequired
from repo_sign.workspace import Workspace


def passphrase_provider(name: str, role: str | None, new: bool) -> bytes:
    """The environment's passphrase (or PIN) for the key (see ``keys``), else a hidden prompt."""
    from_env = keys.passphrase_from_env(role, name)
    if from_env:
        return from_env
    kind = "PIN" if keys.is_signer_uri(name) else "passphrase"
    if sys.stdin.isatty():
        text = click.prompt(
            f"{'New ' + kind if new else kind[0].upper() + kind[1:]} for {name}",
            hide_input=True,
            confirmation_prompt=new,
            err=True,
        )
        return text.encode()
    variables = [v for v in keys.passphrase_variables(role, name) if not v.endswith("_FILE")]
    raise PassphraseRequired(
        f"no {kind} for {name}: set {' or '.join(variables)} (or a _FILE variable), "
        "or run on a terminal"
    )


def repo_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--repo",
        "repo",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Workspace folder (default: the current folder).",
    )(f)


def workspace_of(ctx: click.Context, repo: Path | None) -> Workspace:
    return Workspace(repo or ctx.obj["repo"] or Path.cwd())


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)
