"""The workspace's side of a ceremony: proposals staged in ``staged/``, and publishing them.

Rules:

- One proposal per role at a time: a second is refused until the first is
  published or discarded.
- Publishing checks every proposal as a client will (see ``signatures`` and
  ``publishing``) and writes nothing unless everything verifies.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from tuf.api.metadata import Metadata, Root, Targets

from repo_sign import keys
from repo_sign.ceremony.proposal import (
    PROPOSAL_ROLES,
    KeyChange,
    Proposal,
    apply_change,
    check_follows,
    lint,
)
from repo_sign.ceremony.publishing import (
    Published,
    check_client_view,
    keys_by_role,
    require_ready,
    resign_unverifiable,
    sync_policy,
    trusted_keyids,
    with_signers,
)
from repo_sign.ceremony.review import Review, review
from repo_sign.ceremony.signatures import SignatureStatus, signature_status
from repo_sign.errors import ConflictingFile, PolicyError, ThresholdNotMet
from repo_sign.fsutil import PRIVATE_FOLDER, make_folder
from repo_sign.keys import short_keyid
from repo_sign.policy import Policy
from repo_sign.repository import SignedRepository, expiry, initial_metadata
from repo_sign.workspace import Workspace


class Ceremony:
    """Proposals staged in one workspace, and publishing them.

    Methods that write hold the workspace lock for their whole run.
    """

    def __init__(self, workspace: Workspace, passphrases: keys.PassphraseProvider) -> None:
        self.workspace = workspace
        self.passphrases = passphrases

    # -- reading
    def repository(self) -> SignedRepository:
        return SignedRepository.load(self.workspace, self.passphrases)

    def staged_path(self, role: str) -> Path:
        return self.workspace.staged / f"{role}.json"

    def staged(self) -> list[Proposal]:
        """Every staged proposal, root first."""
        return [
            Proposal.read(self.staged_path(role))
            for role in PROPOSAL_ROLES
            if self.staged_path(role).exists()
        ]

    def current(self, role: str) -> Metadata | None:
        """The published version of ``role``; None while root v1 awaits its key holders."""
        if self.workspace.awaits_first_root():
            return None
        return self.repository().open(role)

    def delegator(self, proposal: Proposal) -> Root | None:
        """The root a proposal is checked against (see ``signature_status``).

        For targets: a staged root proposal for the next root version if there
        is one (both are published together), else the current root. None for
        root version 1, which only its own keys sign.
        """
        current = self.current(Root.type)
        root = current.signed if current is not None else None
        assert root is None or isinstance(root, Root)
        if proposal.role == Targets.type and self.staged_path(Root.type).exists():
            staged_root = Proposal.read(self.staged_path(Root.type)).metadata.signed
            assert isinstance(staged_root, Root)
            if staged_root.version == (root.version if root is not None else 0) + 1:
                return staged_root
        return root

    def review(self, proposal: Proposal) -> Review:
        return review(proposal.metadata, self.current(proposal.role))

    def status(self, proposal: Proposal) -> SignatureStatus:
        check_follows(proposal.metadata, self.current(proposal.role))
        return signature_status(proposal.metadata, self.delegator(proposal))

    # -- proposing
    def draft(
        self,
        repo: SignedRepository,
        role: str,
        changes: list[KeyChange],
        expires_days: float | None = None,
    ) -> Proposal:
        """The linted next version of ``role`` (not written). Caller holds the lock."""
        if role not in PROPOSAL_ROLES:
            raise PolicyError(
                f"ceremonies propose root or targets, not {role}; online roles change with "
                "'repo-sign rotate'"
            )
        path = self.staged_path(role)
        if path.exists():
            existing = Proposal.read(path)
            raise ConflictingFile(
                f"a {role} proposal (version {existing.version}, digest {existing.digest}, "
                f"{len(existing.metadata.signatures)} signatures) is already staged: publish it "
                f"or discard it ('repo-sign ceremony discard {role}') first"
            )
        days = repo.policy.role(role).expires_days if expires_days is None else expires_days
        if days <= 0:
            raise PolicyError(f"--expires {days:g}: the expiry would be in the past")
        md = repo.open(role)
        md.signatures.clear()
        md.signed.version += 1
        md.signed.expires = expiry(days)
        for change in changes:
            apply_change(md.signed, change)
        lint(md)
        return Proposal(path, md)

    def stage(self, proposal: Proposal) -> Proposal:
        """Write a drafted proposal to ``staged/``. Caller holds the lock."""
        proposal.write()
        return proposal

    def discard(self, role: str) -> Path:
        with self.workspace.lock():
            path = self.staged_path(role)
            if not path.exists():
                raise PolicyError(f"no {role} proposal is staged")
            if self.workspace.awaits_first_root():
                raise PolicyError(
                    f"{role} version 1 is this repository's first version: to start over, "
                    "delete the workspace and run 'repo-sign init' again"
                )
            path.unlink()
            return path

    # -- publishing
    def publish(self, proposals: list[Proposal] | None = None) -> Published:
        """Verify proposals as a client would and publish them (see ``publishing``).

        Without ``proposals``, every staged proposal is published together.
        Nothing is written unless everything verifies.
        """
        with self.workspace.lock():
            if self.workspace.awaits_first_root():
                return self._publish_first(proposals)
            repo = self.repository()
            proposals = proposals if proposals is not None else self.staged()
            if not proposals:
                raise PolicyError("nothing to publish: no proposal is staged")
            roles = [p.role for p in proposals]
            if len(set(roles)) != len(roles):
                raise ConflictingFile("two proposals for the same role: publish one of them")
            proposals = sorted(proposals, key=lambda p: PROPOSAL_ROLES.index(p.role))
            trusted_before = trusted_keyids(repo)
            signers_before = {name: dict(r.signers) for name, r in repo.policy.roles.items()}
            for p in proposals:
                lint(p.metadata)
                check_follows(p.metadata, repo.open(p.role))
                require_ready(p, repo.root())
                repo.stage(p.role, p.metadata)
            sync_policy(repo.policy, repo, self.workspace)
            resigned = resign_unverifiable(repo)
            try:
                repo.do_snapshot()
                repo.do_timestamp()
            except ThresholdNotMet as exc:
                raise ThresholdNotMet(
                    f"{exc}: a new snapshot or timestamp key needs its private key at "
                    "keys/ROLE-KEYID16 (use 'repo-sign rotate') or a signer in repo-sign.toml"
                ) from exc
            check_client_view(repo)
            # Crash safety: until the new metadata is out, the policy names the old
            # and the new signers (only keys the metadata trusts ever sign).
            with_signers(repo.policy, signers_before).save(self.workspace.policy_file)
            files = repo.publish()
            repo.policy.save(self.workspace.policy_file)
            retired = self._retire_keys(trusted_before - trusted_keyids(repo))
            for p in proposals:
                self._unstage(p)
        return Published(
            files=files,
            proposals=[f"{p.role} version {p.version}" for p in proposals],
            resigned=resigned,
            retired_keys=retired,
        )

    def _publish_first(self, proposals: list[Proposal] | None) -> Published:
        """Publish root and targets version 1, signed by their holders, and the online roles.

        Caller holds the lock. Both proposals ``init`` staged go out together
        (given ones replace the staged copies); the online roles are made and
        signed now, with the keys ``init`` made.
        """
        staged = {p.role: p for p in self.staged()}
        staged.update({p.role: p for p in proposals or []})
        missing = [role for role in PROPOSAL_ROLES if role not in staged]
        if missing:
            raise PolicyError(
                f"{' and '.join(missing)} version 1 is not staged: root and targets "
                "version 1 are published together"
            )
        root, targets = staged[Root.type], staged[Targets.type]
        for p in (root, targets):
            lint(p.metadata)
            check_follows(p.metadata, None)
            require_ready(p, None if p is root else root.metadata.signed)
        policy = Policy.load(self.workspace.policy_file)
        metadata = initial_metadata(policy, keys_by_role(root.metadata, targets.metadata))
        metadata.update({Root.type: root.metadata, Targets.type: targets.metadata})
        files = SignedRepository.create(self.workspace, policy, metadata, {}, self.passphrases)
        for p in (targets, root):  # root last: its staged copy marks an unpublished init
            self._unstage(p)
        return Published(
            files=files,
            proposals=[f"{p.role} version 1" for p in (root, targets)],
            resigned=[],
            retired_keys=[],
        )

    def _retire_keys(self, keyids: set[str]) -> list[str]:
        """Move private key files of keys no role trusts any more to ``keys/retired/``."""
        retired = []
        for keyid in sorted(keyids):
            for private in sorted(self.workspace.keys.glob(f"*-{short_keyid(keyid)}")):
                target = self.workspace.keys / "retired" / private.name
                make_folder(target.parent, PRIVATE_FOLDER)
                private.rename(target)
                public = private.with_name(f"{private.name}.pub")
                if public.exists():
                    public.rename(target.with_name(f"{private.name}.pub"))
                retired.append(f"keys/{private.name}")
        return retired

    def _unstage(self, proposal: Proposal) -> None:
        """Remove the staged copy of a published proposal (same signed bytes only)."""
        path = self.staged_path(proposal.role)
        with contextlib.suppress(FileNotFoundError, PolicyError):
            if Proposal.read(path).digest == proposal.digest:
                path.unlink()
