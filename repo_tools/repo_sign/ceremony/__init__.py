"""Key ceremonies: several key holders sign one version of an offline role.

An offline role (root, targets) changes through a *proposal*: its next
version, unsigned, written to ``staged/ROLE.json`` in the workspace. The
proposal file is plain TUF metadata (``Metadata.to_bytes()``), so signatures
travel inside it from one key holder's machine to the next (USB stick,
email) with no network and no shared server; what it follows is derivable
(its version minus one).

Modules, each stating the rules it enforces: ``trust`` (who trusts whom),
``proposal`` (lint, key changes, the proposal file), ``signatures`` (counting
signatures as a client would), ``review`` (what a proposal changes),
``holder`` (a key holder's side), ``staging`` (the workspace's side: the
``Ceremony``), ``publishing`` (what a publish checks and re-signs).
"""
