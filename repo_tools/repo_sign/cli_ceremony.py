"""``repo-sign key``, ``ceremony``, ``rotate`` and ``revoke``: the key holders' commands.

Output is for people comparing it across machines: summaries list keys by
fingerprint and end with the proposal's digest. Errors are RepoSignError,
printed as one line by ``cli.main``.
"""

from __future__ import annotations

from pathlib import Path

import click
from securesystemslib.signer import Key

from repo_sign import keys
from repo_sign.ceremony.holder import Comparison, HolderSigning
from repo_sign.ceremony.proposal import PROPOSAL_ROLES, Proposal
from repo_sign.ceremony.staging import Ceremony
from repo_sign.cli_support import echo_lines, passphrase_provider, repo_option, workspace_of
from repo_sign.errors import KeyUnavailable
from repo_sign.policy import BINS_PREFIX
from repo_sign.rotation import KeyRotation


def _ceremony(ctx: click.Context, repo: Path | None) -> Ceremony:
    ws = workspace_of(ctx, repo)
    if not ws.awaits_first_root():
        ws.require_initialized()
    return Ceremony(ws, passphrase_provider)


def _optional_ceremony(ctx: click.Context, repo: Path | None) -> Ceremony | None:
    """The workspace when one is here (or given), for comparing with the trusted version."""
    ws = workspace_of(ctx, repo)
    if ws.is_initialized() or ws.awaits_first_root():
        return Ceremony(ws, passphrase_provider)
    if repo is not None or ctx.obj["repo"] is not None:
        ws.require_initialized()
    return None


trusted_option = click.option(
    "--trusted",
    "trusted",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Without a workspace: the current version to compare with (metadata/root.json; for "
    "a targets proposal also the root it is checked against). Repeatable.",
)


def _public_keys(references: tuple[str, ...]) -> tuple[Key, ...]:
    return tuple(keys.read_public_key(Path(ref)) for ref in references)


# ---- key ------------------------------------------------------------------------------


@click.group()
def key() -> None:
    """Make keys for key holders."""


@key.command(name="new")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to write (PATH.pub gets the public key).",
)
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519", show_default=True)
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


@key.command(name="import")
@click.argument("signer_uri")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Public key file to write (FILE.pub).",
)
def key_import(signer_uri: str, out: Path) -> None:
    """Write the public key file of a key a signer holds (hsm:, awskms:, gcpkms:, hv:)."""
    if out.exists():
        raise KeyUnavailable(f"{out} already exists: choose another path")
    uri, public = keys.import_public_key(signer_uri)
    keys.write_public_key(out, public)
    click.echo(f"key id:      {public.keyid}")
    click.echo(f"fingerprint: {keys.fingerprint(public)}")
    click.echo(f"signer:      {uri}")
    click.echo(f"public key:  {out} (give this file to the repository's maintainers)")


# ---- ceremony ---------------------------------------------------------------------


@click.group()
def ceremony() -> None:
    """Propose, sign and publish new versions of root and targets."""


@ceremony.command()
@repo_option
@click.argument("role", type=click.Choice(PROPOSAL_ROLES))
@click.option(
    "--role",
    "key_role",
    metavar="NAME",
    help="Role whose keys or threshold change (default: root for root, the hash bins for targets).",
)
@click.option(
    "--add-key",
    "add_keys",
    multiple=True,
    metavar="PUBKEY_FILE",
    help="Public key file (repo-sign JSON or PEM) to trust; repeatable.",
)
@click.option(
    "--remove-key",
    "remove_keys",
    multiple=True,
    metavar="KEYID",
    help="Key id (8+ hex digits) or .pub file to stop trusting; repeatable.",
)
@click.option("--threshold", type=int, default=None, help="New threshold of that role.")
@click.option(
    "--expires",
    "expires_days",
    type=float,
    default=None,
    metavar="DAYS",
    help="Validity from now (default: the role's period in repo-sign.toml).",
)
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
    result = KeyRotation(c).propose(role, key_role, add_keys, remove_keys, threshold, expires_days)
    echo_lines(result.lines())


@ceremony.command()
@repo_option
@click.argument("proposal_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_ref",
    required=True,
    metavar="KEY_FILE_OR_URI",
    help="Private key file (beside KEY_FILE.pub) or signer URI.",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Public key file, for a signer URI or a .pub kept elsewhere.",
)
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
    signing = HolderSigning.open(proposal_file, _optional_ceremony(ctx, repo), trusted)
    echo_lines(signing.review())
    for note in signing.use_key(key_ref, passphrase_provider, public_key):
        click.echo(note, err=True)
    if not yes:
        click.confirm(signing.question(), abort=True, err=True)
    echo_lines(signing.sign())


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
        echo_lines(
            Comparison.of(proposal, _optional_ceremony(ctx, repo), trusted).describe(proposal)
        )


@ceremony.command()
@repo_option
@click.argument("proposal_files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def publish(ctx: click.Context, repo: Path | None, proposal_files: tuple[Path, ...]) -> None:
    """Verify proposals as clients will and publish them (default: every staged one)."""
    c = _ceremony(ctx, repo)
    proposals = [Proposal.read(path) for path in proposal_files] or None
    echo_lines(c.publish(proposals).lines())


@ceremony.command()
@repo_option
@click.argument("role", type=click.Choice(PROPOSAL_ROLES))
@click.pass_context
def discard(ctx: click.Context, repo: Path | None, role: str) -> None:
    """Delete the staged proposal for ROLE."""
    path = _ceremony(ctx, repo).discard(role)
    click.echo(f"discarded {path}")


# ---- rotate and revoke ---------------------------------------------------------------


@click.command()
@repo_option
@click.argument("role", type=click.Choice(["timestamp", "snapshot", BINS_PREFIX]))
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519", show_default=True)
@click.option("--expires", "expires_days", type=float, default=None, metavar="DAYS")
@click.option(
    "--signer",
    "signer_uri",
    default=None,
    metavar="URI",
    help="Put ROLE on the key this signer holds (hsm:, awskms:...) instead of a "
    "new key file; needs --public-key.",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Public key file of the --signer key (repo-sign key import).",
)
@click.pass_context
def rotate(
    ctx: click.Context,
    repo: Path | None,
    role: str,
    key_type: str,
    expires_days: float | None,
    signer_uri: str | None,
    public_key: Path | None,
) -> None:
    """Make a new key for an online ROLE (or use --signer's) and propose trusting it
    instead of the old one."""
    if (signer_uri is None) != (public_key is None):
        raise click.UsageError("--signer and --public-key go together")
    signer = (signer_uri, keys.read_public_key(public_key)) if signer_uri and public_key else None
    rotation = KeyRotation(_ceremony(ctx, repo), key_type)
    echo_lines(rotation.rotate(role, expires_days, signer).lines())


@click.command()
@repo_option
@click.argument("keyid")
@click.option(
    "--add-key",
    "add_keys",
    multiple=True,
    metavar="PUBKEY_FILE",
    help="Replacement for a root or targets key; repeatable.",
)
@click.option("--key-type", type=click.Choice(keys.KEY_TYPES), default="ed25519", show_default=True)
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
    rotation = KeyRotation(_ceremony(ctx, repo), key_type)
    echo_lines(rotation.revoke(keyid, _public_keys(add_keys), expires_days).lines())


# The commands ``cli`` adds to the ``repo-sign`` group.
COMMANDS = (key, ceremony, rotate, revoke)
