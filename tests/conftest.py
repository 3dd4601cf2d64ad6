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


@pytest.fixture
def one_thread():
    """One intra-op thread for tests of many tiny ops (models, metrics): on a shared 2-core
    machine a second thread mostly waits (an Inception forward took 7 s with 2 threads and 1 s
    with 1 while other jobs ran). Opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
