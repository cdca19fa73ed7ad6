"""``repo-sign yank``, ``unyank`` and ``project-status``: curating what is published.

Each command changes one project's pages and publishes them in one signed
step, holding the workspace lock; errors are RepoSignError, printed as one
line by ``cli.main``.
"""

from __future__ import annotations

from pathlib import Path

import click

from repo_sign.cli_support import passphrase_provider, repo_option, workspace_of
from repo_sign.index import STATUSES
from repo_sign.repository import Changes, SignedRepository, set_project_status, yank


def _requirement(text: str) -> tuple[str, str]:
    name, sep, version = text.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise click.BadParameter(f"{text!r}: expected NAME==VERSION", param_hint="REQUIREMENT")
    return name.strip(), version.strip()


def _load(ctx: click.Context, repo: Path | None) -> SignedRepository:
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    return SignedRepository.load(ws, passphrase_provider)


def _report(changes: Changes, done: str) -> None:
    if not changes.published:
        click.echo(f"Nothing to change: {done} already.")
        return
    click.echo(f"{done}; published {', '.join(changes.published)}")


@click.command(name="yank")
@repo_option
@click.argument("requirement")
@click.option("--reason", default=None, help="Why, shown to users by their installer.")
@click.pass_context
def yank_(ctx: click.Context, repo: Path | None, requirement: str, reason: str | None) -> None:
    """Yank every file of NAME==VERSION (PEP 592): installers skip it unless pinned."""
    name, version = _requirement(requirement)
    with workspace_of(ctx, repo).lock():
        changes = yank(_load(ctx, repo), name, version, reason or True)
    _report(changes, f"{name} {version} is yanked")


@click.command()
@repo_option
@click.argument("requirement")
@click.pass_context
def unyank(ctx: click.Context, repo: Path | None, requirement: str) -> None:
    """Withdraw the yank of NAME==VERSION."""
    name, version = _requirement(requirement)
    with workspace_of(ctx, repo).lock():
        changes = yank(_load(ctx, repo), name, version, False)
    _report(changes, f"{name} {version} is not yanked")


@click.command(name="project-status")
@repo_option
@click.argument("name")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--reason", default=None, help="Why, shown to users by tufpip.")
@click.pass_context
def project_status(
    ctx: click.Context, repo: Path | None, name: str, status: str, reason: str | None
) -> None:
    """Set a project's status (PEP 792); a quarantined project's pages list no files."""
    with workspace_of(ctx, repo).lock():
        changes = set_project_status(_load(ctx, repo), name, status, reason)
    _report(changes, f"{name} is {status}")


COMMANDS = (yank_, unyank, project_status)
