"""``repo-sign yank``, ``unyank``, ``project-status`` and ``sync``: curating what is published.

Each command publishes in one signed step, holding the workspace lock
throughout (``sync`` too while it downloads, so cron runs take turns);
errors are RepoSignError, printed as one line by ``cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from repo_sign.cli_support import passphrase_provider, repo_option, workspace_of
from repo_sign.distributions import inspect_all
from repo_sign.importer import fetch
from repo_sign.index import STATUSES
from repo_sign.repository import (
    Changes,
    SignedRepository,
    add_distributions,
    now,
    set_project_status,
    yank,
)
from repo_sign.sync import SyncPolicy


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


@click.command()
@repo_option
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TOML sync policy (docs/repository.md).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan or result as JSON.")
@click.pass_context
def sync(
    ctx: click.Context, repo: Path | None, policy_file: Path, dry_run: bool, as_json: bool
) -> None:
    """Mirror what the policy allows from its upstream index; publish what is new, once."""
    policy = SyncPolicy.load(policy_file)
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock(), fetch(policy.requirements, policy.mirror(now())) as plan:
        repository = SignedRepository.load(ws, passphrase_provider)
        dists = inspect_all(plan.files)
        published = {
            name
            for d in {d.project for d in dists}
            if (page := repository.project_page(d))
            for name in page.files
        }
        new = [d for d in dists if d.filename not in published]
        changes = Changes()
        if new and not dry_run:
            changes = add_distributions(repository, new, plan.upload_times)
    added: list[dict[str, str | None]] = [
        {"project": d.project, "file": d.filename, "upload-time": plan.upload_times.get(d.filename)}
        for d in new
    ]
    skipped: list[dict[str, str | None]] = [
        {"file": name, "reason": why} for name, why in sorted(plan.skipped.items())
    ]
    result = {"dry-run": dry_run, "add": added, "skipped": skipped, "published": changes.published}
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for item in added:
        verb = "would add" if dry_run else "added"
        click.echo(f"{verb} {item['project']}: {item['file']} (uploaded {item['upload-time']})")
    for item in skipped:
        click.echo(f"skipped {item['file']}: {item['reason']}")
    if changes.published:
        click.echo(f"published {', '.join(changes.published)}")
    elif not dry_run:
        click.echo("Nothing new: published nothing.")


COMMANDS = (yank_, unyank, project_status, sync)
