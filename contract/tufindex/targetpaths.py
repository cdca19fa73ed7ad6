"""The target-path contract between repo-sign and tufpip.

Every file a client may use is a TUF target, named by one of these paths
(``NAME`` is the project name normalized per PEP 503, ``FILE`` a wheel or
sdist file name):

- ``simple/vnd.pypi.simple.v1.json``: the list of projects (PEP 691 JSON).
- ``simple/NAME/vnd.pypi.simple.v1.json``: the project page, PEP 691 JSON.
- ``simple/NAME/vnd.pypi.simple.v1.html``: the same page, PEP 503 HTML.
- ``packages/NAME/FILE``: the distribution itself.
- ``packages/NAME/FILE.metadata``: a wheel's core metadata (PEP 658).

File URLs inside project pages are relative (``../../packages/NAME/FILE``),
so a page served at ``BASE/simple/NAME/`` links to ``BASE/packages/NAME/FILE``.
repo-sign writes these targets; tufpip maps installer requests onto them.
Both import this module, and nothing else spells these paths.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

PageFormat = Literal["json", "html"]

PROJECT_LIST = "simple/vnd.pypi.simple.v1.json"
METADATA_SUFFIX = ".metadata"

# A normalized project name (PEP 503): lowercase runs of [a-z0-9] joined by "-".
_NORMALIZED = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Characters allowed in a distribution file name (wheel and sdist grammars).
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")


class InvalidDistributionName(ValueError):
    """A file name that is neither a valid wheel nor a valid sdist name."""


def normalize(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a project name."""
    return canonicalize_name(name)


def is_normalized(name: str) -> bool:
    return bool(_NORMALIZED.match(name))


def project_page(name: str, fmt: PageFormat = "json") -> str:
    """Target path of a project's index page in the given format."""
    return f"simple/{normalize(name)}/vnd.pypi.simple.v1.{fmt}"


def distribution(name: str, filename: str) -> str:
    """Target path of a distribution file."""
    return f"packages/{normalize(name)}/{filename}"


def core_metadata(name: str, filename: str) -> str:
    """Target path of a wheel's PEP 658 core metadata file."""
    return distribution(name, filename) + METADATA_SUFFIX


def file_url(name: str, filename: str) -> str:
    """The relative URL a project page uses to link to a distribution."""
    return f"../../packages/{normalize(name)}/{quote(filename)}"


def parse_filename(filename: str) -> tuple[NormalizedName, Version, bool]:
    """Project name, version and whether it is a wheel, from a distribution file name.

    Raises InvalidDistributionName for anything that is not a wheel
    (``.whl``) or an sdist (``.tar.gz`` or ``.zip``) name.
    """
    if not _FILENAME.match(filename):
        raise InvalidDistributionName(f"{filename!r} is not a wheel or sdist file name")
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return name, version, True
        name, version = parse_sdist_filename(filename)
        return name, version, False
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidDistributionName(
            f"{filename!r} is not a wheel or sdist file name: {exc}"
        ) from exc


def is_target_path(path: str) -> bool:
    """Whether ``path`` is a target path this contract can produce.

    Clients use it to refuse anything else (``..`` segments, absolute paths,
    percent-encoded names, names that are not normalized) before asking TUF.
    """
    if path == PROJECT_LIST:
        return True
    parts = path.split("/")
    if len(parts) != 3 or not is_normalized(parts[1]):
        return False
    kind, name, leaf = parts
    if kind == "simple":
        return leaf in ("vnd.pypi.simple.v1.json", "vnd.pypi.simple.v1.html")
    if kind == "packages":
        filename = leaf.removesuffix(METADATA_SUFFIX)
        if leaf != filename and not filename.endswith(".whl"):
            return False
        try:
            parsed_name, _version, _wheel = parse_filename(filename)
        except InvalidDistributionName:
            return False
        return parsed_name == name
    return False
