"""Publishing the workspace to S3-compatible object storage (``repo-sign publish s3://``).

Rules:

- The bucket gets the served files (``hosting.is_served``) under PREFIX in
  the workspace's layout, so clients use ``ENDPOINT/BUCKET/PREFIX`` as they
  would a web server, with ``hosting``'s Cache-Control and content types.
- Upload order keeps every reader consistent at every moment: targets, then
  root versions, then delegated metadata, then snapshots, then ``root.json``
  and ``timestamp.json`` last. Until the timestamp is replaced, readers see
  the previous repository, whole; an interrupted publish is completed by the
  next run.
- An object already there with the same content (its MD5 ETag) is skipped: a
  publish with nothing new uploads nothing. Nothing is ever deleted: an old
  snapshot a client is still following may name any file.
- The workspace lock is held throughout, so no repo-sign run changes what is
  being uploaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlparse

from repo_sign.errors import HostingError
from repo_sign.hosting import MUTABLE_METADATA, cache_control, content_type, is_served
from repo_sign.workspace import Workspace


@dataclass
class Uploaded:
    """What one publish did, for the CLI to report."""

    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        return [
            *(f"uploaded {key}" for key in self.uploaded),
            f"{len(self.uploaded)} uploaded, {self.unchanged} already there",
        ]


def parse_destination(url: str) -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` -> (bucket, prefix without slashes at its ends)."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise HostingError(f"{url}: expected s3://BUCKET/PREFIX")
    return parsed.netloc, parsed.path.strip("/")


def publish_order(workspace: Workspace) -> list[str]:
    """Every served file, relative to the workspace, in the order that keeps readers whole."""
    files = [
        str(p.relative_to(workspace.root))
        for folder in (workspace.targets, workspace.metadata)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]

    def rank(path: str) -> tuple[int, str]:
        name = path.rpartition("/")[2]
        if path.startswith("targets/"):
            return 0, path
        if path == "metadata/timestamp.json":
            return 5, path
        if name in MUTABLE_METADATA:
            return 4, path
        return {"root.json": 1, "snapshot.json": 3}.get(name.split(".", 1)[1], 2), path

    return sorted((p for p in files if is_served(p)), key=rank)


def publish(workspace: Workspace, destination: str, endpoint_url: str | None) -> Uploaded:
    """Upload what changed to ``destination`` (module docstring)."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise HostingError("publishing to S3 needs boto3: pip install 'tufpip[s3]'") from None
    bucket, prefix = parse_destination(destination)
    key_of = (lambda path: f"{prefix}/{path}") if prefix else (lambda path: path)
    result = Uploaded()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint_url)
        with workspace.lock():
            existing = _etags(s3, bucket, prefix)
            for path in publish_order(workspace):
                data = (workspace.root / path).read_bytes()
                key = key_of(path)
                if existing.get(key) == hashlib.md5(data, usedforsecurity=False).hexdigest():
                    result.unchanged += 1
                    continue
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=data,
                    CacheControl=cache_control(path),
                    ContentType=content_type(path),
                )
                result.uploaded.append(key)
    except (BotoCoreError, ClientError) as exc:
        done = f" ({len(result.uploaded)} uploaded before; run again to finish)"
        raise HostingError(f"publishing to {destination} failed: {exc}{done}") from exc
    return result


def _etags(s3: object, bucket: str, prefix: str) -> dict[str, str]:
    """Key -> MD5 hex of every object under ``prefix`` (single-part ETags)."""
    result = {}
    pages = s3.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
    )
    for page in pages:
        for item in page.get("Contents", []):
            result[item["Key"]] = item["ETag"].strip('"')
    return result
