"""Test-wide settings: no network, a private cache, deterministic torch, and the device to test on.

``pytest --device cuda`` (or ``PDLOSS_TEST_DEVICE=cuda``) runs every test that takes the ``device``
fixture on that device; the default is the CPU. A device that is asked for but absent skips those
tests with the reason, it does not fall back to the CPU silently.
"""

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default=os.environ.get("PDLOSS_TEST_DEVICE", "cpu"),
        help="torch device for the tests that take the `device` fixture: cpu (default), cuda, cuda:1, mps "
        "(or the environment variable PDLOSS_TEST_DEVICE)",
    )


def _device_missing(device: torch.device) -> str | None:
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "--device cuda asked for, but torch sees no CUDA device"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"--device {device} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return "--device mps asked for, but MPS is not available"
    return None


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device under test (``--device``); tests that take it build their tensors there."""
    device = torch.device(request.config.getoption("--device"))
    missing = _device_missing(device)
    if missing:
        pytest.skip(missing)
    return device


def pytest_report_header(config: pytest.Config) -> str:
    return f"pdloss test device: {config.getoption('--device')}"
