"""The ``repo-sign`` command line: parses arguments, maps errors to exit codes.

Rules:

- ``main`` is the one place that turns an outcome into an exit status
  (docs/repository.md, "Exit status"): a RepoSignError is printed as one line
  on stderr and ends with its ``exit_code``, a file system error with 1, a
  usage error with click's 2; ``--debug`` shows the traceback instead.
- Commands never exit: one that reports its own failure (``verify``,
  ``refresh``) returns the status for ``main`` to return.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from repo_sign import __version__, cli_ceremony, cli_curation, cli_hosting, keys
from repo_sign.bins import rebin as rebin_repository
from repo_sign.ceremony.proposal import Proposal
from repo_sign.ceremony.review import review
from repo_sign.cli_support import echo_lines, passphrase_provider, repo_option, workspace_of
from repo_sign.distributions import distribution_files, inspect_all
from repo_sign.errors import InvalidDistribution, RepoSignError, VerificationFailed
from repo_sign.expiry import refresh, status
from repo_sign.importer import DEFAULT_INDEX, Mirror, check_upstream_hashes, fetch, upload_times
from repo_sign.initialize import init_repository
from repo_sign.repair import repair as repair_repository
from repo_sign.repository import SignedRepository, add_distributions, remove_distributions
from repo_sign.serve import RepositoryServer
from repo_sign.verify import verify_repository

# ``refresh``: an offline role is inside its signing window or expired.
NEEDS_KEY_HOLDERS = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder (default: the current folder).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="repo-sign")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, debug: bool) -> None:
    """Build, sign, verify and serve a TUF repository of Python distributions."""
    ctx.ensure_object(dict).update(repo=repo, debug=debug)


@cli.command()
@repo_option
@click.option(
    "--root-key",
    "root_holders",
    multiple=True,
    metavar="PUBKEY_FILE",
    help="A root key holder's public key (repo-sign key new); repeatable.",
)
@click.option("--root-threshold", default=1, show_default=True, help="Root signature threshold.")
@click.option(
    "--targets-key",
    "targets_holders",
    multiple=True,
    metavar="PUBKEY_FILE",
    help="A targets key holder's public key; repeatable (default: a key made here).",
)
@click.option(
    "--targets-threshold", default=1, show_default=True, help="Targets signature threshold."
)
@click.option(
    "--root-keys",
    default=None,
    type=int,
    help="Make this many root keys here instead (demos only).",
)
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519", show_default=True)
@click.option(
    "--bins",
    default=16,
    show_default=True,
    help="Hash bins (a power of two; 0 keeps every target in targets).",
)
@click.option(
    "--expires",
    "expires",
    multiple=True,
    metavar="ROLE=DAYS",
    help="Validity of a role: root, targets, bins, snapshot, timestamp.",
)
@click.pass_context
def init(
    ctx: click.Context,
    repo: Path | None,
    root_holders: tuple[str, ...],
    root_threshold: int,
    targets_holders: tuple[str, ...],
    targets_threshold: int,
    root_keys: int | None,
    key_type: str,
    bins: int,
    expires: tuple[str, ...],
) -> None:
    """Create a workspace: online keys, policy, and version 1 of every role.

    With --root-key (and --targets-key), version 1 of root (and targets) is
    staged for its key holders to sign with 'repo-sign ceremony sign'; nothing
    is published until 'repo-sign ceremony publish'.
    """
    ws = workspace_of(ctx, repo)
    if root_holders and root_keys is not None:
        raise click.UsageError("give either --root-key (key holders) or --root-keys (demos)")
    holders = {
        "root": [keys.read_public_key(Path(p)) for p in root_holders],
        "targets": [keys.read_public_key(Path(p)) for p in targets_holders],
    }
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
            root_keys=root_keys or 1,
            thresholds={"root": root_threshold, "targets": targets_threshold},
            holders=holders,
            key_type=key_type,
            bins=bins,
            expires=periods,
        )
    if not root_holders:
        click.echo(
            "repo-sign: note: the root keys were made here, in keys/: for demos only "
            "(key holders: repo-sign init --root-key HOLDER.pub, see docs/ceremony.md)",
            err=True,
        )
    if ws.awaits_first_root():
        click.echo(f"Initialized {ws.root}: version 1 awaits its key holders' signatures.")
        for path in written:
            echo_lines(review(Proposal.read(Path(path)).metadata, None).lines())
            click.echo(f"proposal: {path}")
        click.echo(
            "next: each key holder runs 'repo-sign ceremony sign PROPOSAL_FILE --key KEY' "
            "and compares the digest ('repo-sign ceremony status'), then "
            "'repo-sign ceremony publish'"
        )
        return
    click.echo(f"Initialized repository in {ws.root} ({len(written)} metadata files).")
    click.echo(f"Clients bootstrap from {ws.metadata / 'root.json'}.")


@cli.command()
@repo_option
@click.option("-v", "--verbose", is_flag=True, help="List every file added.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--check-upstream",
    "upstream",
    metavar="INDEX",
    default=None,
    help="Refuse a file whose sha256 differs from this index's PEP 691 page; keep its upload-time.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def add(
    ctx: click.Context,
    repo: Path | None,
    verbose: bool,
    as_json: bool,
    upstream: str | None,
    files: tuple[Path, ...],
) -> None:
    """Add wheels and sdists (FILES, or every one inside a folder), then publish once."""
    dists = inspect_all(distribution_files(files))
    if not dists:
        raise InvalidDistribution(f"no wheels or sdists in {', '.join(map(str, files))}")
    times = (
        upload_times(check_upstream_hashes([d.path for d in dists], upstream)) if upstream else {}
    )
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    with ws.lock():
        changes = add_distributions(SignedRepository.load(ws, passphrase_provider), dists, times)
    added = len(changes.targets_added)
    if as_json:
        document = {
            "files": len(dists),
            "added": changes.targets_added,
            "already_published": len(dists) - added,
            "published": changes.published,
            "versions": changes.versions,
        }
        click.echo(json.dumps(document, indent=2))
        return
    if not added:
        click.echo("Nothing to add: every file is already published.")
        return
    if verbose:
        echo_lines(f"added {path}" for path in changes.targets_added)
    projects = len({path.split("/")[1] for path in changes.targets_added})
    versions = changes.versions
    click.echo(
        f"added {added} of {len(dists)} files ({projects} projects;"
        f" {len(dists) - added} already published): published snapshot version"
        f" {versions['snapshot']}, timestamp version {versions['timestamp']}"
        f" ({len(changes.published)} metadata files)"
    )


@cli.command(name="import")
@repo_option
@click.option(
    "-r",
    "--requirement",
    "requirements",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--index-url", default=DEFAULT_INDEX, show_default=True)
@click.option(
    "--python-version",
    "python_versions",
    multiple=True,
    metavar="X.Y",
    help="Mirror wheels for this Python (repeatable; default: the one running repo-sign).",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="TAG",
    help="Mirror wheels for this platform tag (repeatable; default: this machine's).",
)
@click.pass_context
def import_(
    ctx: click.Context,
    repo: Path | None,
    requirements: Path,
    index_url: str,
    python_versions: tuple[str, ...],
    platforms: tuple[str, ...],
) -> None:
    """Download a requirements list from an upstream index, check its hashes, add it."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    mirror = Mirror(index=index_url, python_versions=python_versions, platforms=platforms)
    with fetch(["-r", str(requirements)], mirror) as plan:
        dists = inspect_all(plan.files)
        with ws.lock():
            repository = SignedRepository.load(ws, passphrase_provider)
            changes = add_distributions(repository, dists, plan.upload_times)
    click.echo(f"imported {len(dists)} files ({len(changes.targets_added)} new)")
    for path in changes.targets_added:
        click.echo(f"added {path}")
    for name, why in sorted(plan.skipped.items()):
        click.echo(f"skipped {name}: {why}")


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
@click.option(
    "--repair", is_flag=True, help="Publish again what verifies after metadata was damaged or lost."
)
@click.pass_context
def refresh_(ctx: click.Context, repo: Path | None, force: bool, repair: bool) -> int:
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
    return NEEDS_KEY_HOLDERS if report.needs_key_holders else 0


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
        keyids = ", ".join(map(keys.short_keyid, s.keys))
        click.echo(f"{name:<12} {s.version:>7}  {s.expires:<20} {signed:>6}  {keyids}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")


@cli.command()
@repo_option
@click.pass_context
def verify(ctx: click.Context, repo: Path | None) -> int:
    """Check the published repository as a client would, and every target file."""
    ws = workspace_of(ctx, repo)
    ws.require_initialized()
    report = verify_repository(ws)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if not report.ok:
        click.echo(
            f"repository {ws.root} FAILED verification: {len(report.problems)} problem(s)", err=True
        )
        return VerificationFailed.exit_code
    click.echo(f"OK: {report.roles} metadata files and {report.targets} targets verified.")
    return 0


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


for _command in (*cli_ceremony.COMMANDS, *cli_curation.COMMANDS, *cli_hosting.COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run ``repo-sign`` with ``argv`` (default: the process's); return the exit status."""
    options: dict[str, Any] = {}  # the group's options, once parsed (``--debug``)
    try:
        status = cli.main(args=argv, prog_name="repo-sign", standalone_mode=False, obj=options)
    except click.exceptions.Abort:
        click.echo("repo-sign: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except RepoSignError as exc:
        if options.get("debug"):
            raise
        click.echo(f"repo-sign: error: {exc}", err=True)
        return exc.exit_code
    except OSError as exc:
        if options.get("debug"):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"repo-sign: error: {exc.strerror or exc}{where}", err=True)
        return 1
    return status if isinstance(status, int) else 0
