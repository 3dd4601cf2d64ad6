"""Test-wide settings: no network, a private cache, deterministic torch."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    # Tests never download and never touch the user's cache.
    old = {k: os.environ.get(k) for k in ("PDLOSS_HOME", "PDLOSS_OFFLINE")}
    os.environ["PDLOSS_HOME"] = str(tmp_path_factory.mktemp("pdloss_home"))
    os.environ["PDLOSS_OFFLINE"] = "1"
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
