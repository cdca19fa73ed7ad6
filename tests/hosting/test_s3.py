"""``repo-sign publish s3://`` against moto's real S3 HTTP server: the layout a
client installs from, cache headers, nothing re-uploaded, and a publish
interrupted anywhere leaving the bucket serving the previous repository."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from tuf.ngclient import Updater

from repo_sign.objectstore import publish, publish_order
from repo_sign.workspace import Workspace
from tests.attacks.checks import Client, installed
from tests.support.distributions import make_wheel
from tests.support.hosts import moto_s3
from tests.support.repositories import build_repository, repo_sign

BUCKET = "packages"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Bucket:
    workspace: Workspace
    endpoint: str
    dists: Path

    def url(self, prefix: str) -> str:
        return f"{self.endpoint}/{BUCKET}/{prefix}"

    def publish(self, prefix: str) -> subprocess.CompletedProcess:
        return repo_sign(
            "publish",
            f"s3://{BUCKET}/{prefix}",
            "--endpoint-url",
            self.endpoint,
            "--repo",
            self.workspace.root,
            **CREDENTIALS,
        )


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bucket]:
    base = tmp_path_factory.mktemp("s3")
    dists = base / "dists"
    files = [make_wheel(dists, "alpha", "1.0", requires=["beta"]), make_wheel(dists, "beta", "1.0")]
    workspace = build_repository(base / "repo", files)
    with pytest.MonkeyPatch.context() as mp, moto_s3(base) as endpoint:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
        yield Bucket(workspace, endpoint, dists)


@pytest.mark.slow
def test_install_from_the_bucket_then_nothing_to_upload(tmp_path: Path, bucket: Bucket) -> None:
    first = bucket.publish("repo").stdout.splitlines()
    uploaded = [line.removeprefix("uploaded repo/") for line in first if line.startswith("up")]
    assert uploaded == publish_order(bucket.workspace)
    assert uploaded[-1] == "metadata/timestamp.json"
    assert uploaded[0].startswith("targets/")
    assert bucket.publish("repo").stdout.splitlines() == [
        f"0 uploaded, {len(uploaded)} already there"
    ]

    timestamp = requests.get(f"{bucket.url('repo')}/metadata/timestamp.json", timeout=10)
    assert timestamp.headers["Cache-Control"] == "no-cache"
    target = next(p for p in uploaded if p.endswith(".whl"))
    wheel = requests.get(f"{bucket.url('repo')}/{target}", timeout=10)
    assert "immutable" in wheel.headers["Cache-Control"]
    assert wheel.content == (bucket.workspace.root / target).read_bytes()
    assert requests.get(f"{bucket.url('repo')}/repo-sign.toml", timeout=10).status_code in (
        403,
        404,
    )

    client = Client(tmp_path / "home", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    run = client("init", bucket.url("repo"), "--root", bucket.workspace.metadata / "1.root.json")
    assert run.returncode == 0, run.describe()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    run = client.install(venv, "alpha", installer="uv")
    assert run.returncode == 0, run.describe()
    assert {"alpha", "beta"} <= installed(venv)


def timestamp_version(tmp_path: Path, bucket: Bucket, prefix: str) -> int:
    """The timestamp a fresh ngclient accepts from the bucket (it verifies everything)."""
    tmp_path.mkdir()
    updater = Updater(
        str(tmp_path),
        f"{bucket.url(prefix)}/metadata/",
        str(tmp_path),
        f"{bucket.url(prefix)}/targets/",
        bootstrap=(bucket.workspace.metadata / "1.root.json").read_bytes(),
    )
    updater.refresh()
    assert updater.get_targetinfo("packages/beta/beta-1.0-py3-none-any.whl") is not None
    return updater._trusted_set.timestamp.version


def test_an_interrupted_publish_leaves_the_previous_repository(
    tmp_path: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.publish("interrupted")
    before = timestamp_version(tmp_path / "before", bucket, "interrupted")
    repo_sign("add", "--repo", bucket.workspace.root, make_wheel(bucket.dists, "beta", "2.0"))
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    uploads: list[str] = []

    def network_dies(at: str):  # the network dies before the upload of a key ending in ``at``
        def hook(params: dict, **_: object) -> None:
            if params["Key"].endswith(at):
                raise ConnectionResetError("network gone")
            uploads.append(params["Key"])

        return hook

    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    for at in (".whl", "timestamp.json"):  # first upload; after everything but the timestamp
        session.events.register("before-parameter-build.s3.PutObject", network_dies(at), "dies")
        try:
            with pytest.raises(ConnectionResetError):
                publish(bucket.workspace, f"s3://{BUCKET}/interrupted", bucket.endpoint)
        finally:
            session.events.unregister("before-parameter-build.s3.PutObject", unique_id="dies")
        assert timestamp_version(tmp_path / at, bucket, "interrupted") == before
    assert any("snapshot" in key for key in uploads)
    report = bucket.publish("interrupted").stdout.splitlines()
    assert report[-2] == "uploaded interrupted/metadata/timestamp.json"
    assert timestamp_version(tmp_path / "after", bucket, "interrupted") > before
