"""A minimal PEP 517 build backend, used by the tests in two ways.

The tests build their wheels with ``write_wheel``, and they publish this very
file as the wheel of a project named ``tinybackend``: sdists built by the
tests name it in ``build-system.requires``, so installing such an sdist makes
the installer fetch a build backend through the verifying index, as a real
sdist would. Standard library only: it runs inside pip's isolated build.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import tomllib
import zipfile
from collections.abc import Mapping


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def core_metadata(
    name: str,
    version: str,
    requires: list[str] | None = None,
    extras: Mapping[str, list[str]] | None = None,
    requires_python: str | None = None,
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires or []]
    for extra, reqs in (extras or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {req} ; extra == "{extra}"' for req in reqs]
    return "\n".join(lines) + "\n\n"


def write_wheel(
    directory: str,
    name: str,
    version: str,
    files: Mapping[str, str],
    metadata: str,
) -> str:
    """Write a pure-Python wheel holding ``files`` (path -> text); return its file name."""
    dist = name.replace("-", "_")
    filename = f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    entries = dict(files)
    entries[f"{info}/METADATA"] = metadata
    entries[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tinybackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    path = os.path.join(directory, filename)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, text in sorted(entries.items()):
            data = text.encode()
            info_ = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info_.external_attr = 0o644 << 16
            wheel.writestr(info_, data, zipfile.ZIP_DEFLATED)
            record.append(f"{arcname},{_record_hash(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(
            zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
            "\n".join(record) + "\n",
        )
    return filename


def _project() -> dict:
    with open("pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _sources() -> dict[str, str]:
    files = {}
    for root, _dirs, names in os.walk("src"):
        for name in names:
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                files[os.path.relpath(path, "src").replace(os.sep, "/")] = f.read()
    return files


# PEP 517 hooks
def get_requires_for_build_wheel(config_settings: object = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: object = None) -> list[str]:
    return []


def build_wheel(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    project = _project()
    metadata = core_metadata(
        project["name"],
        project["version"],
        project.get("dependencies"),
        project.get("optional-dependencies"),
        project.get("requires-python"),
    )
    return write_wheel(wheel_directory, project["name"], project["version"], _sources(), metadata)


def build_sdist(sdist_directory: str, config_settings: object = None) -> str:
    project = _project()
    base = f"{project['name'].replace('-', '_')}-{project['version']}"
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for path in ["pyproject.toml", *(os.path.join("src", p) for p in _sources())]:
            tar.add(path, arcname=f"{base}/{path}")
    return filename


def get_requires_for_build_editable(config_settings: object = None) -> list[str]:
    return []


def build_editable(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    """PEP 660: a wheel whose ``.pth`` file puts the project's ``src`` on the path."""
    project = _project()
    metadata = core_metadata(project["name"], project["version"], project.get("dependencies"))
    pth = {f"{project['name'].replace('-', '_')}.pth": os.path.abspath("src") + "\n"}
    return write_wheel(wheel_directory, project["name"], project["version"], pth, metadata)
