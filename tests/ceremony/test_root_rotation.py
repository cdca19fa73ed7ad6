"""A 2-of-3 root: replace one key, then all three, then raise the threshold to 3-of-5.

Clients that bootstrapped from version 1 and clients that cached every
version both walk the chain (TUF spec 5.3.4) and install.
"""

from __future__ import annotations

from pathlib import Path

from repo_sign.workspace import Workspace
from tests.ceremony.helpers import (
    Holder,
    ceremony,
    ngclient_fetch,
    rebin,
    repo_sign,
    root_version,
    served,
    trusted_version,
    tufpip,
    workspace_holders,
)

WHEEL = "packages/ceremony-demo/ceremony_demo-1.0-py3-none-any.whl"


def test_root_keys_replaced_step_by_step_and_threshold_raised(
    workspace: Workspace, tmp_path: Path
) -> None:
    k1, k2, k3 = workspace_holders(workspace)
    h = {name: Holder(tmp_path / name) for name in ("h1", "h2", "h3", "h4", "h5", "h6")}
    cached, cached_ng = tmp_path / "cached-client", tmp_path / "cached-ngclient"
    bootstrap = (workspace.metadata / "1.root.json").read_bytes()
    with served(workspace) as server:
        tufpip(cached, "init", server.url, "--root", workspace.metadata / "1.root.json")
        tufpip(cached, "refresh")
        ngclient_fetch(server.url, cached_ng, bootstrap, WHEEL)

        def cached_clients_follow(version: int) -> None:
            tufpip(cached, "refresh")
            assert trusted_version(cached, "root") == version
            ngclient_fetch(server.url, cached_ng, None, WHEEL)
            assert root_version(cached_ng) == version

        # 1. Replace one key: k1 leaves, h1 joins. Old root: k1, k2 (2 of 3);
        #    new root: k2 and h1 (2 of 3).
        ceremony(workspace, [k1, k2, h["h1"]], "--add-key", h["h1"].pub, "--remove-key", k1.keyid)
        cached_clients_follow(2)
        # 2. Replace all three: k2, k3, h1 leave; h2, h3, h4 join.
        out = ceremony(
            workspace,
            [k2, h["h1"], h["h2"], h["h3"]],
            "--add-key",
            h["h2"].pub,
            "--add-key",
            h["h3"].pub,
            "--add-key",
            h["h4"].pub,
            "--remove-key",
            k2.keyid,
            "--remove-key",
            k3.keyid,
            "--remove-key",
            h["h1"].keyid,
        )
        assert "published root version 3" in out
        cached_clients_follow(3)
        # 3. Raise the threshold to 3 of 5: h5 and h6 join.
        ceremony(
            workspace,
            [h["h2"], h["h4"], h["h5"], h["h6"]],
            "--add-key",
            h["h5"].pub,
            "--add-key",
            h["h6"].pub,
            "--threshold",
            "3",
        )
        cached_clients_follow(4)
        repo_sign("--repo", workspace.root, "verify")

        # Clients with every version cached install.
        target = tmp_path / "installed-cached"
        tufpip(cached, "install", "--target", target, "ceremony-demo==1.0")
        assert (target / "ceremony_demo" / "__init__.py").exists()
        # Clients bootstrapped from version 1 now walk 1 -> 4 at once, and install.
        fresh = tmp_path / "fresh-client"
        tufpip(fresh, "init", server.url, "--root", tmp_path / "repo" / "metadata" / "1.root.json")
        target = tmp_path / "installed-fresh"
        tufpip(fresh, "install", "--target", target, "ceremony-demo==1.0")
        assert trusted_version(fresh, "root") == 4
        assert (target / "ceremony_demo" / "__init__.py").exists()
        fresh_ng = tmp_path / "fresh-ngclient"
        data = ngclient_fetch(server.url, fresh_ng, bootstrap, WHEEL)
        assert root_version(fresh_ng) == 4
        assert data[:2] == b"PK"


def test_a_root_change_publishes_after_rebinning_up_and_down(
    workspace: Workspace, tmp_path: Path, wheels: list[Path]
) -> None:
    holders = workspace_holders(workspace)
    new = Holder(tmp_path / "h1")
    home = tmp_path / "client"
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        tufpip(home, "refresh")  # trusts the two bins of init
        rebin(workspace, "16", "4")  # bins-4 ... bins-f retired, still in the snapshot
        repo_sign("--repo", workspace.root, "add", wheels[1])
        out = ceremony(workspace, [*holders, new], "--add-key", new.pub, "--threshold", "3")
        assert "published root version 2" in out
        tufpip(home, "refresh")
        assert trusted_version(home, "root") == 2
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==2.0")
        assert "2.0" in (target / "ceremony_demo" / "__init__.py").read_text()
    repo_sign("--repo", workspace.root, "verify")
