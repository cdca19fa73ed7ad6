"""``repo-sign key``, ``ceremony``, ``rotate`` and ``revoke``: the key holders' commands.

Output is for people comparing it across machines: summaries list keys by
fingerprint and end with the proposal's digest. Errors are RepoSignError,
printed as one line by ``cli.main``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root

from repo_sign import keys
from repo_sign.ceremony import (
    PROPOSAL_ROLES,
    Ceremony,
    KeyChange,
    Proposal,
    candidate_keys,
    check_follows,
    delegations_of,
    holder_signer,
    lint,
    resolve_keyid,
    review,
    signature_status,
)
from repo_sign.cli import passphrase_provider, repo_option, workspace_of
from repo_sign.errors import KeyUnavailable, PolicyError
from repo_sign.keys import short_keyid
from repo_sign.policy import BINS_PREFIX, ONLINE_ROLES
from repo_sign.rotation import KeyProposals, KeyRotation
from repo_sign.workspace import Workspace


def _ceremony(ctx: click.Context, repo: Path | None) -> Ceremony:
    ws = workspace_of(ctx, repo)
    if not ws.awaits_first_root():
        ws.require_initialized()
    return Ceremony(ws, passphrase_provider)


def _optional_workspace(ctx: click.Context, repo: Path | None) -> Workspace | None:
    """The workspace when one is here (or given), for comparing with the trusted version."""
    ws = workspace_of(ctx, repo)
    if ws.is_initialized() or ws.awaits_first_root():
        return ws
    if repo is not None or ctx.obj["repo"] is not None:
        ws.require_initialized()
    return None


@dataclass
class Context:
    """What a proposal is compared with: the trusted version it follows, and its root."""

    current: Metadata | None
    delegator: Root | None
    known: bool  # False: neither a workspace nor --trusted files to compare with


def _context(
    ctx: click.Context, repo: Path | None, proposal: Proposal, trusted: tuple[Path, ...]
) -> Context:
    """Compare with the workspace when there is one, else with the --trusted files."""
    ws = _optional_workspace(ctx, repo)
    if ws is not None:
        c = Ceremony(ws, passphrase_provider)
        current = c.current(proposal.role)
        check_follows(proposal.metadata, current)
        return Context(current, c.delegator(proposal), True)
    files = {md.signed.type: md for md in (Proposal.read(path).metadata for path in trusted)}
    root = files.get(Root.type)
    current = files.get(proposal.role)
    if current is not None:
        check_follows(proposal.metadata, current)
    delegator = root.signed if root is not None else None
    assert delegator is None or isinstance(delegator, Root)
    return Context(current, delegator, current is not None or proposal.version == 1)


def _review_lines(proposal: Proposal, context: Context) -> list[str]:
    lines = review(proposal.metadata, context.current).lines()
    if not context.known:
        lines.insert(1, "  (every key is listed: pass --trusted ROLE.json, the current version, "
                        "to see only what changes)")  # fmt: skip
    return lines


trusted_option = click.option(
    "--trusted", "trusted", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Without a workspace: the current version to compare with (metadata/root.json; for "
         "a targets proposal also the root it is checked against). Repeatable.",
)  # fmt: skip


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


def _public_keys(references: tuple[str, ...]) -> tuple[Key, ...]:
    return tuple(keys.read_public_key(Path(ref)) for ref in references)


# ---- key ------------------------------------------------------------------------------


@click.group()
def key() -> None:
    """Make keys for key holders."""


@key.command(name="new")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file to write (PATH.pub gets the public key).")  # fmt: skip
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519",
              show_default=True)  # fmt: skip
def key_new(out: Path, key_type: str) -> None:
    """Make a key pair: OUT (encrypted, mode 0600) and OUT.pub."""
    if out.exists() or Path(f"{out}.pub").exists():
        raise KeyUnavailable(f"{out} already exists: choose another path")
    private, public = keys.generate(key_type)
    keys.write_key_pair(out, private, public, passphrase_provider(str(out), None, True))
    click.echo(f"key id:      {public.keyid}")
    click.echo(f"fingerprint: {keys.fingerprint(public)}")
    click.echo(f"private key: {out} (encrypted, mode 0600: keep it on this machine)")
    click.echo(f"public key:  {out}.pub (give this file to the repository's maintainers)")


# ---- ceremony ---------------------------------------------------------------------


@click.group()
def ceremony() -> None:
    """Propose, sign and publish new versions of root and targets."""


@ceremony.command()
@repo_option
@click.argument("role", type=click.Choice(PROPOSAL_ROLES))
@click.option("--role", "key_role", metavar="NAME",
              help="Role whose keys or threshold change (default: root for root, "
                   "the hash bins for targets).")  # fmt: skip
@click.option("--add-key", "add_keys", multiple=True, metavar="PUBKEY_FILE",
              help="Public key file (repo-sign JSON or PEM) to trust; repeatable.")  # fmt: skip
@click.option("--remove-key", "remove_keys", multiple=True, metavar="KEYID",
              help="Key id (8+ hex digits) or .pub file to stop trusting; repeatable.")  # fmt: skip
@click.option("--threshold", type=int, default=None, help="New threshold of that role.")
@click.option("--expires", "expires_days", type=float, default=None, metavar="DAYS",
              help="Validity from now (default: the role's period in repo-sign.toml).")  # fmt: skip
@click.pass_context
def propose(
    ctx: click.Context,
    repo: Path | None,
    role: str,
    key_role: str | None,
    add_keys: tuple[str, ...],
    remove_keys: tuple[str, ...],
    threshold: int | None,
    expires_days: float | None,
) -> None:
    """Stage the next version of ROLE (root or targets) for key holders to sign."""
    c = _ceremony(ctx, repo)
    key_role = key_role or (Root.type if role == Root.type else BINS_PREFIX)
    changes = []
    added = _public_keys(add_keys)
    if add_keys or remove_keys or threshold is not None:
        current = c.repository().open(role).signed
        trust = delegations_of(current).get(key_role)
        candidates = trust.keyids if trust is not None else ()
        removed = tuple(resolve_keyid(k, candidates) for k in remove_keys)
        changes.append(KeyChange(key_role, added, removed, threshold))
    # An online key made with 'repo-sign key new' has its private key beside its .pub.
    beside = {key.keyid: Path(ref).with_suffix("") for ref, key in zip(add_keys, added, strict=True)
              if ref.endswith(".pub") and Path(ref).with_suffix("").is_file()}  # fmt: skip
    result = KeyRotation(c).propose(role, changes, expires_days, beside)
    (proposal,) = result.proposals
    for key in added:
        if key_role in ONLINE_ROLES and key.keyid in beside:
            click.echo(f"new {key_role} key {short_keyid(key.keyid)}: "
                       f"keys/{keys.private_key_name(key_role, key)}")  # fmt: skip
    _echo_lines(c.review(proposal).lines())
    click.echo(f"proposal: {proposal.path}")
    click.echo(
        "next: each key holder runs 'repo-sign ceremony sign PROPOSAL_FILE --key KEY' "
        "and compares the digest out of band"
    )


@ceremony.command()
@repo_option
@click.argument("proposal_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_ref", required=True, metavar="KEY_FILE_OR_URI",
              help="Private key file (beside KEY_FILE.pub) or signer URI.")  # fmt: skip
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Public key file, for a signer URI or a .pub kept elsewhere.")  # fmt: skip
@click.option("--yes", is_flag=True, help="Sign without asking (after comparing the digest).")
@trusted_option
@click.pass_context
def sign(
    ctx: click.Context,
    repo: Path | None,
    proposal_file: Path,
    key_ref: str,
    public_key: Path | None,
    yes: bool,
    trusted: tuple[Path, ...],
) -> None:
    """Review PROPOSAL_FILE and add a signature with one key. No workspace needed."""
    proposal = Proposal.read(proposal_file)
    lint(proposal.metadata)
    context = _context(ctx, repo, proposal, trusted)
    delegator = context.delegator
    _echo_lines(_review_lines(proposal, context))
    before = signature_status(proposal.metadata, delegator)
    candidates = candidate_keys(proposal.metadata, delegator)
    signer = holder_signer(key_ref, proposal.role, candidates, passphrase_provider, public_key)
    keyid = signer.public_key.keyid
    relevant = before.relevant_keyids()
    if keyid not in relevant and before.complete:
        raise PolicyError(
            f"key {short_keyid(keyid)} counts for no threshold of {proposal.role} version "
            f"{proposal.version}: signing with it would add nothing"
        )
    if keyid not in relevant:
        click.echo(f"note: key {short_keyid(keyid)} is not a key of this proposal: it counts "
                   "only if the current root trusts it", err=True)  # fmt: skip
    if not yes:
        click.confirm(
            f"Sign {proposal.role} version {proposal.version} (digest {proposal.digest}) "
            f"with key {keys.fingerprint(signer.public_key)}?",
            abort=True,
            err=True,
        )
    if not proposal.sign(signer):
        click.echo(f"{short_keyid(keyid)} had already signed: nothing changed")
        _echo_lines(before.lines())
        return
    proposal.write()
    click.echo(f"signed by {short_keyid(keyid)}; {proposal.path} holds "
               f"{len(proposal.metadata.signatures)} signature(s)")  # fmt: skip
    after = signature_status(proposal.metadata, delegator)
    _echo_lines([f"this signature {line}" for line in after.gained(before, keyid)])
    _echo_lines(after.lines())


@ceremony.command()
@repo_option
@click.argument("proposal_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@trusted_option
@click.pass_context
def status(
    ctx: click.Context, repo: Path | None, proposal_file: Path | None, trusted: tuple[Path, ...]
) -> None:
    """What the staged proposals (or PROPOSAL_FILE) change, who signed, which thresholds are met."""
    if proposal_file is not None:
        proposals = [Proposal.read(proposal_file)]
    else:
        proposals = _ceremony(ctx, repo).staged()
        if not proposals:
            click.echo("no proposal is staged")
    for proposal in proposals:
        context = _context(ctx, repo, proposal, trusted)
        click.echo(f"{proposal.path}:")
        _echo_lines(_review_lines(proposal, context))
        _echo_lines(signature_status(proposal.metadata, context.delegator).lines())


@ceremony.command()
@repo_option
@click.argument("proposal_files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def publish(ctx: click.Context, repo: Path | None, proposal_files: tuple[Path, ...]) -> None:
    """Verify proposals as clients will and publish them (default: every staged one)."""
    c = _ceremony(ctx, repo)
    proposals = [Proposal.read(path) for path in proposal_files] or None
    result = c.publish(proposals)
    click.echo(f"published {', '.join(result.proposals)}")
    if result.resigned:
        click.echo(f"re-signed with the new keys: {', '.join(result.resigned)}")
    click.echo(f"files: {', '.join(result.files)}")
    for name in result.retired_keys:
        click.echo(f"retired {name} to keys/retired/ (no role trusts it any more)")


@ceremony.command()
@repo_option
@click.argument("role", type=click.Choice(PROPOSAL_ROLES))
@click.pass_context
def discard(ctx: click.Context, repo: Path | None, role: str) -> None:
    """Delete the staged proposal for ROLE."""
    path = _ceremony(ctx, repo).discard(role)
    click.echo(f"discarded {path}")


# ---- rotate and revoke ---------------------------------------------------------------


def _report(c: Ceremony, result: KeyProposals) -> None:
    for new in result.new_keys:
        click.echo(f"new {new.role} key {short_keyid(new.public.keyid)}: keys/{new.name}")
    for proposal in result.proposals:
        _echo_lines(c.review(proposal).lines())
        click.echo(f"proposal: {proposal.path}")
    click.echo("next: key holders sign with 'repo-sign ceremony sign', then 'ceremony publish'")


@click.command()
@repo_option
@click.argument("role", type=click.Choice(["timestamp", "snapshot", BINS_PREFIX]))
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519",
              show_default=True)  # fmt: skip
@click.option("--expires", "expires_days", type=float, default=None, metavar="DAYS")
@click.pass_context
def rotate(
    ctx: click.Context, repo: Path | None, role: str, key_type: str, expires_days: float | None
) -> None:
    """Make a new key for an online ROLE and propose trusting it instead of the old one."""
    c = _ceremony(ctx, repo)
    _report(c, KeyRotation(c, key_type).rotate(role, expires_days))


@click.command()
@repo_option
@click.argument("keyid")
@click.option("--add-key", "add_keys", multiple=True, metavar="PUBKEY_FILE",
              help="Replacement for a root or targets key; repeatable.")  # fmt: skip
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519",
              show_default=True)  # fmt: skip
@click.option("--expires", "expires_days", type=float, default=None, metavar="DAYS")
@click.pass_context
def revoke(
    ctx: click.Context,
    repo: Path | None,
    keyid: str,
    add_keys: tuple[str, ...],
    key_type: str,
    expires_days: float | None,
) -> None:
    """Propose removing a compromised key (KEYID, prefix or .pub) from every role."""
    c = _ceremony(ctx, repo)
    result = KeyRotation(c, key_type).revoke(keyid, _public_keys(add_keys), expires_days)
    _report(c, result)


def register(cli: click.Group) -> None:
    """Add these commands to the ``repo-sign`` group."""
    for command in (key, ceremony, rotate, revoke):
        cli.add_command(command)
