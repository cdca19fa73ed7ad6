"""What a web server or object store must serve, and with which headers.

Rules:

- Only ``metadata/`` and ``targets/`` are served, and in them only the names
  repo-sign publishes: ``timestamp.json`` and ``root.json``, versioned
  ``N.ROLE.json``, and hash-prefixed ``DIR/SHA256.NAME`` targets. Everything
  else (keys, policy, staged proposals, temporary files) answers 404.
- ``timestamp.json`` and the unversioned ``root.json`` change in place: a cache
  must revalidate them (``no-cache``), or a CDN would serve a stale timestamp
  that looks to clients like a freeze attack. Every other served name is
  immutable (versioned or content-addressed) and may be cached for a year.
- The nginx block and the object-store uploads (``objectstore``) take these
  rules from here, so both hosts serve the same headers.
"""

from __future__ import annotations

import re
from pathlib import Path

from repo_sign.errors import HostingError

REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
MUTABLE_METADATA = ("timestamp.json", "root.json")
# Path patterns relative to the served base URL (nginx adds the leading "/").
_VERSIONED_METADATA = r"metadata/[0-9]+\.[A-Za-z0-9_.-]+\.json"
_HASHED_TARGET = r"targets/(?:[A-Za-z0-9_.-]+/)*[0-9a-f]{64}\.[A-Za-z0-9_.+!-]+"
_SERVED = re.compile(
    rf"^(?:metadata/(?:{'|'.join(map(re.escape, MUTABLE_METADATA))})"
    rf"|{_VERSIONED_METADATA}|{_HASHED_TARGET})$"
)
# file name suffix -> content type; anything else is application/octet-stream
CONTENT_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".metadata": "text/plain; charset=utf-8",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_LISTEN = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
_NGINX_UNSAFE = re.compile(r'["\\$;{}\s]')


def is_served(path: str) -> bool:
    """Whether ``path`` (relative to the workspace, ``/``-separated) is published."""
    return bool(_SERVED.match(path))


def cache_control(path: str) -> str:
    """The Cache-Control of a served ``path`` (module docstring)."""
    mutable = path.removeprefix("metadata/") in MUTABLE_METADATA
    return REVALIDATE if mutable else IMMUTABLE


def content_type(path: str) -> str:
    return next(
        (kind for suffix, kind in CONTENT_TYPES.items() if path.endswith(suffix)),
        DEFAULT_CONTENT_TYPE,
    )


def nginx_server_block(root: Path, listen: str) -> str:
    """An nginx ``server`` block serving the workspace at ``root`` on ``listen``."""
    if not _LISTEN.match(listen):
        raise HostingError(f"--listen {listen!r}: expected ADDR:PORT, e.g. 127.0.0.1:8080")
    if _NGINX_UNSAFE.search(str(root)):
        raise HostingError(f"{root}: nginx cannot name this folder unquoted: move the workspace")
    types = "\n".join(
        f"        {kind.split(';')[0]} {suffix[1:]};" for suffix, kind in CONTENT_TYPES.items()
    )
    mutable = "\n".join(
        f'    location = /metadata/{name} {{ add_header Cache-Control "{REVALIDATE}" always; }}'
        for name in MUTABLE_METADATA
    )
    return f"""\
# repo-sign hosting nginx: serves metadata/ and targets/ of {root}, nothing else.
server {{
    listen {listen};
    root {root};
    autoindex off;
    charset utf-8;
    charset_types text/html text/plain application/json;
    types {{
{types}
    }}
    default_type {DEFAULT_CONTENT_TYPE};
    # Changes in place: caches must revalidate (a stale timestamp looks like a freeze).
{mutable}
    # Versioned metadata and hash-prefixed targets never change.
    location ~ "^/(?:{_VERSIONED_METADATA}|{_HASHED_TARGET})$" {{
        add_header Cache-Control "{IMMUTABLE}" always;
    }}
    # keys/, repo-sign.toml, staged/, temporary files, folders: not served.
    location / {{ return 404; }}
}}
"""
