from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.distributions import make_backend_wheel, make_sdist, make_wheel
from tests.support.repositories import PASSPHRASE


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REPO_SIGN_PASSPHRASE", PASSPHRASE)
    return PASSPHRASE


@pytest.fixture(scope="session")
def dozen(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve distributions: wheels with dependencies, extras, versions, an sdist."""
    d = tmp_path_factory.mktemp("dozen")
    return [
        make_wheel(d, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(d, "beta", "1.0", requires_python=">=3.8"),
        make_wheel(d, "beta", "2.0", requires_python=">=3.9"),
        make_wheel(d, "Gamma.Delta", "0.1"),
        make_wheel(d, "epsilon", "3.0", extras={"fast": ["zeta"]}),
        make_wheel(d, "zeta", "1.2.3"),
        make_wheel(d, "eta", "1.0+local.1"),
        make_wheel(d, "theta", "2!1.0"),
        make_wheel(d, "iota", "0.9rc1"),
        make_wheel(d, "kappa", "10.0", requires=["alpha", "iota>=0.9rc1"]),
        make_sdist(d, "lambda-pkg", "1.0"),
        make_backend_wheel(d),
    ]
