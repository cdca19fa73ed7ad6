"""The ``tufpip`` command: parse arguments, call ``Client``, map errors to exit codes.

Every failure ends with one line on stderr (``tufpip: error: ...``) and the
error's exit status (see ``errors.EXIT_CODES``); ``--debug`` adds the traceback.
The client is imported once a command runs: ``--help`` needs only click.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tufpip.errors import EXIT_CODES, TufpipError, UsageError
from tufpip.state import DEFAULT_NAME

if TYPE_CHECKING:
    from tufpip.client import Client

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


class _Group(click.Group):
    """Reports ``TufpipError`` as one line and its exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TufpipError as exc:
            if ctx.params.get("debug"):
                traceback.print_exc()
            click.echo(f"tufpip: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(
    cls=_Group,
    epilog="Exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()),
)
@click.option("--repository", metavar="NAME", help="Recorded repository to use (default: first).")
@click.option("-v", "--verbose", is_flag=True, help="Show each verified target.")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP requests.")
@click.pass_context
def cli(ctx: click.Context, repository: str | None, verbose: bool, debug: bool) -> None:
    """Install Python packages only after TUF verification."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tufpip: %(message)s"))
    logger = logging.getLogger("tufpip")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    from tufpip import progress
    from tufpip.client import Client

    ctx.obj = Client(repository=repository, progress=progress.for_stderr())


@cli.command()
@click.argument("url")
@click.option("--root", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Name to record it as.")
@click.option("--trust-on-first-use", is_flag=True, help="Trust the root the server sends now.")
@click.option("--yes", is_flag=True, help="Do not ask before trusting on first use.")
@click.option(
    "--force", is_flag=True, help="Replace a repository recorded as NAME, wiping its state."
)
@click.pass_obj
def init(
    client: Client,
    url: str,
    root: Path | None,
    name: str,
    trust_on_first_use: bool,
    yes: bool,
    force: bool,
) -> None:
    """Record the repository at base URL, trusting the root metadata ROOT."""
    if root is not None:
        data = root.read_bytes()
    elif trust_on_first_use:
        metadata = client.fetch_first_root(url)
        roles = metadata.signed.roles["root"]
        click.echo(f"root version {metadata.signed.version} of {url}", err=True)
        click.echo(f"threshold: {roles.threshold} of {len(roles.keyids)} root keys:", err=True)
        for keyid in roles.keyids:
            key = metadata.signed.keys[keyid]
            click.echo(f"  {keyid} ({key.keytype}, {key.scheme})", err=True)
        if not yes and not click.confirm("Trust these keys?", err=True):
            raise UsageError("not trusted: nothing recorded")
        data = metadata.to_bytes()
    else:
        raise UsageError("refusing to trust a repository without --root ROOT_JSON")
    repository = client.init(url, data, name, force=force)
    click.echo(f"recorded repository {repository.name!r} at {repository.url}")


@cli.command()
@click.argument("name")
@click.pass_obj
def forget(client: Client, name: str) -> None:
    """Remove the recorded repository NAME, its trusted metadata and its cache."""
    repository = client.forget(name)
    click.echo(f"forgot repository {repository.name!r} ({repository.path} removed)")


@cli.command(context_settings=_PASS_THROUGH)
@click.option("--installer", type=click.Choice(["pip", "uv"]), default="pip", show_default=True)
@click.option("--python", metavar="PATH", help="Install into the environment of this Python.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def install(client: Client, installer: str, python: str | None, args: tuple[str, ...]) -> None:
    """Install packages with pip's (or uv's) install options, from verified files only."""
    from tufpip.installer import Installer

    client.install(args, Installer(installer, python))  # type: ignore[arg-type]


@cli.command(context_settings=_PASS_THROUGH)
@click.option("-d", "--dest", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--python", metavar="PATH", help="Resolve for the environment of this Python.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def download(client: Client, dest: Path, python: str | None, args: tuple[str, ...]) -> None:
    """Download resolved, verified distributions into DEST."""
    from tufpip.installer import Installer

    client.download(args, dest, Installer("pip", python))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def verify(client: Client, files: tuple[Path, ...]) -> None:
    """Check that local FILES are exactly targets of the repository."""
    results = client.verify(files)
    for result in results:
        if result.error is None:
            click.echo(f"OK {result.file}: {result.target}")
        else:
            click.echo(f"FAILED {result.error}", err=True)
    failures = [r.error for r in results if r.error is not None]
    if failures:
        raise failures[0]


@cli.command(name="list")
@click.pass_obj
def list_(client: Client) -> None:
    """List the projects the repository signs."""
    for name in client.projects():
        click.echo(name)


@cli.command()
@click.argument("name")
@click.pass_obj
def info(client: Client, name: str) -> None:
    """Show the versions and files of project NAME."""
    page = client.project(name)
    click.echo(f"{page['name']}: {', '.join(page.get('versions', []))}")
    for file in page["files"]:
        size, sha256 = file.get("size", "?"), file["hashes"]["sha256"]
        click.echo(f"  {file['filename']}  {size} bytes  sha256:{sha256}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(client: Client, as_json: bool) -> None:
    """Show trusted metadata versions, expiry, repository URL and cache size."""
    _print_status(client.status(), as_json)


@cli.command()
@click.pass_obj
def refresh(client: Client) -> None:
    """Update the trusted metadata only."""
    _print_status(client.refresh(), as_json=False)


def _print_status(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"repository {report['repository']}: {report['url']}")
    for role, state in report["roles"].items():
        expired = "  EXPIRED" if state["expired"] else ""
        click.echo(f"  {role}: version {state['version']}, expires {state['expires']}{expired}")
    cache = report["cache"]
    click.echo(f"  cache: {cache['files']} files, {cache['bytes']} bytes")


def main() -> None:
    cli(prog_name="tufpip")
