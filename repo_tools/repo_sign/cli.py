"""The ``repo-sign`` command line: parses arguments, maps errors to exit codes.

Every error a user can cause is a RepoSignError; it is printed as one line
on stderr and the command exits with its code (see docs/repository.md).
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__, keys
from .bins import rebin as rebin_repository
from .distributions import inspect
from .errors import PassphraseRequired, RepoSignError
from .expiry import refresh, status
from .importer import DEFAULT_INDEX, download
from .initialize import init_repository
from .repair import repair as repair_repository
from .repository import SignedRepository, add_distributions, remove_distributions
from .serve import RepositoryServer
from .verify import verify_repository
from .workspace import Workspace


def passphrase_provider(name: str, new: bool) -> bytes:
    """REPO_SIGN_PASSPHRASE for every key, else a hidden prompt on a terminal."""
    from_env = keys.passphrase_from_env()
    if from_env:
        return from_env
    if sys.stdin.isatty():
        text = click.prompt(
            f"{'New passphrase' if new else 'Passphrase'} for {name}",
            hide_input=True,
            confirmation_prompt=new,
            err=True,
        )
        return text.encode()
    raise PassphraseRequired(
        f"no passphrase for {name}: set REPO_SIGN_PASSPHRASE or run on a terminal"
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


def open_repository(ctx: click.Context, repo: Path | None) -> tuple[Workspace, SignedRepository]:
    ws = workspace_of(ctx, repo)
    return ws, SignedRepository.load(ws, passphrase_provider)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace folder (default: the current folder).")  # fmt: skip
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="repo-sign")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, debug: bool) -> None:
    """Build, sign, verify and serve a TUF repository of Python distributions."""
    ctx.obj = {"repo": repo, "debug": debug}


@cli.command()
@repo_option
@click.option("--root-keys", default=1, show_default=True, help="Number of root keys.")
@click.option("--root-threshold", default=1, show_default=True, help="Root signature threshold.")
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519",
              show_default=True)  # fmt: skip
@click.option("--bins", default=16, show_default=True,
              help="Hash bins (a power of two; 0 keeps every target in targets).")  # fmt: skip
@click.option("--expires", "expires", multiple=True, metavar="ROLE=DAYS",
              help="Validity of a role: root, targets, bins, snapshot, timestamp.")  # fmt: skip
@click.pass_context
def init(
    ctx: click.Context,
    repo: Path | None,
    root_keys: int,
    root_threshold: int,
    key_type: str,
    bins: int,
    expires: tuple[str, ...],
) -> None:
    """Create keys and version 1 of every role in a new workspace."""
    ws = workspace_of(ctx, repo)
    periods = {}
    for item in expires:
        role, _, days = item.partition("=")
        try:
            periods[role.strip()] = float(days)
        except ValueError:
            message = f"{item!r}: expected ROLE=DAYS"
            raise click.BadParameter(message, param_hint="--expires") from None
    with ws.lock():
        written = init_repository(
            ws,
            passphrase_provider,
            root_keys=root_keys,
            root_threshold=root_threshold,
            key_type=key_type,
            bins=bins,
            expires=periods,
        )
    click.echo(f"Initialized repository in {ws.root} ({len(written)} metadata files).")
    click.echo(f"Clients bootstrap from {ws.metadata / 'root.json'}.")


@cli.command()
@repo_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def add(ctx: click.Context, repo: Path | None, files: tuple[Path, ...]) -> None:
    """Add wheels and sdists, regenerate their index pages and publish."""
    dists = [inspect(path) for path in files]
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock():
        changes = add_distributions(SignedRepository.load(ws, passphrase_provider), dists)
    if not changes.targets_added:
        click.echo("Nothing to add: every file is already published.")
        return
    for path in changes.targets_added:
        click.echo(f"added {path}")
    click.echo(f"published {', '.join(changes.published)}")


@cli.command(name="import")
@repo_option
@click.option("-r", "--requirement", "requirements", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--index-url", default=DEFAULT_INDEX, show_default=True)
@click.pass_context
def import_(ctx: click.Context, repo: Path | None, requirements: Path, index_url: str) -> None:
    """Download a requirements list from an upstream index, check its hashes, add it."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with download(requirements, index_url) as files:
        dists = [inspect(path) for path in files]
        with ws.lock():
            changes = add_distributions(SignedRepository.load(ws, passphrase_provider), dists)
    click.echo(f"imported {len(dists)} files ({len(changes.targets_added)} new)")
    for path in changes.targets_added:
        click.echo(f"added {path}")


@cli.command()
@repo_option
@click.argument("requirement")
@click.pass_context
def remove(ctx: click.Context, repo: Path | None, requirement: str) -> None:
    """Remove a project (NAME) or one of its versions (NAME==VERSION)."""
    name, _, version = requirement.partition("==")
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock():
        repository = SignedRepository.load(ws, passphrase_provider)
        changes = remove_distributions(repository, name.strip(), version.strip() or None)
    for path in changes.targets_removed:
        click.echo(f"removed {path}")
    click.echo(f"published {', '.join(changes.published)}")


@cli.command(name="refresh")
@repo_option
@click.option("--force", is_flag=True, help="Re-sign every online role now.")
@click.option("--repair", is_flag=True,
              help="Publish again what verifies after metadata was damaged or lost.")  # fmt: skip
@click.pass_context
def refresh_(ctx: click.Context, repo: Path | None, force: bool, repair: bool) -> None:
    """Re-sign online roles due for it (always the timestamp). For cron."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock():
        if repair:
            repaired = repair_repository(ws, passphrase_provider)
            for name in repaired.written:
                click.echo(f"repaired {name}")
            for note in repaired.notes:
                click.echo(f"warning: {note}", err=True)
        report = refresh(SignedRepository.load(ws, passphrase_provider), force=force)
    for action in report.actions:
        click.echo(action)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.needs_key_holders:
        sys.exit(2)


@cli.command(name="status")
@repo_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status_(ctx: click.Context, repo: Path | None, as_json: bool) -> None:
    """Version, expiry, keys, threshold and signatures of every role."""
    ws = workspace_of(ctx, repo)
    report = status(SignedRepository.load(ws, passphrase_provider))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
        return
    click.echo(f"{'role':<12} {'version':>7}  {'expires':<20} {'signed':>6}  keys")
    for name, s in report.roles.items():
        signed = f"{s.signatures}/{s.threshold}"
        keyids = ", ".join(k[:16] for k in s.keys)
        click.echo(f"{name:<12} {s.version:>7}  {s.expires:<20} {signed:>6}  {keyids}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")


@cli.command()
@repo_option
@click.pass_context
def verify(ctx: click.Context, repo: Path | None) -> None:
    """Check the published repository as a client would, and every target file."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    report = verify_repository(ws)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        click.echo(f"repository {ws.root} FAILED verification: {len(report.problems)} problem(s)",
                   err=True)  # fmt: skip
        sys.exit(8)
    click.echo(f"OK: {report.roles} metadata files and {report.targets} targets verified.")


@cli.command()
@repo_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, help="0 picks a free port.")
@click.pass_context
def serve(ctx: click.Context, repo: Path | None, host: str, port: int) -> None:
    """Serve metadata/ and targets/ over HTTP for development (nothing else)."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    server = RepositoryServer(ws, host, port, log=True)
    click.echo(f"Serving {ws.root} at {server.url}/ (metadata/ and targets/ only); Ctrl-C stops.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command()
@repo_option
@click.argument("count", required=False, type=int)
@click.pass_context
def rebin(ctx: click.Context, repo: Path | None, count: int | None) -> None:
    """Move every target into COUNT hash bins (default: the best count for its size)."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock():
        count, changes = rebin_repository(SignedRepository.load(ws, passphrase_provider), count)
    if not changes.published:
        click.echo(f"Already {count} bins: nothing to do.")
        return
    click.echo(f"{count} bins: published {len(changes.published)} metadata files")


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="repo-sign", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("repo-sign: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RepoSignError as exc:
        if debug:
            raise
        click.echo(f"repo-sign: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"repo-sign: error: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)


from .cli_ceremony import register  # noqa: E402  (its commands import this module's helpers)

register(cli)
