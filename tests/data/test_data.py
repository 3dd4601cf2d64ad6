"""Tests of the data sets, data sources, the debian-photos fetch logic and the data/degrade CLIs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pdloss.cli import main
from pdloss.data import debian
from pdloss.data.builtin import builtin_photos
from pdloss.data.paired import PairedDataset, ValidationDataset
from pdloss.data.sources import resolve_images
from pdloss.errors import InputError


def write_photos(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for n, (h, w) in enumerate(sizes):
        path = folder / f"img{n:02d}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    write_photos(tmp_path / "photos", [(70, 90), (64, 64), (96, 72)])
    return tmp_path / "photos"


# ---------------------------------------------------------------- paired training set


def test_crops_reproducible_per_seed_and_epoch(photos):
    a = PairedDataset(photos, "denoise", crop_size=32, seed=3)
    b = PairedDataset(photos, "denoise", crop_size=32, seed=3)
    for i in range(len(a)):
        assert all(torch.equal(x, y) for x, y in zip(a[i], b[i], strict=True))
    degraded, target = a[0]
    assert degraded.shape == target.shape == (3, 32, 32)
    c = PairedDataset(photos, "denoise", crop_size=32, seed=4)
    assert not torch.equal(a[0][1], c[0][1])
    first = a[1]
    a.set_epoch(1)
    assert a.epoch == 1
    assert not torch.equal(first[1], a[1][1])
    a.set_epoch(0)
    assert torch.equal(first[1], a[1][1])


def test_crops_are_crops_of_the_image(photos):
    ds = PairedDataset(photos, "jpeg", crop_size=32, augment=False, seed=1)
    image = torch.from_numpy(np.array(Image.open(ds.paths[0]))).permute(2, 0, 1).float() / 255
    target = ds[0][1]
    windows = image.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, H-31, W-31, 32, 32)
    match = (windows - target[:, None, None]).abs().amax(dim=(0, 3, 4)) == 0
    assert match.sum() == 1


def test_workers_get_different_crops_and_epochs_reach_persistent_workers(tmp_path):
    folder = tmp_path / "one"
    write_photos(folder, [(128, 128)])
    ds = PairedDataset(folder, "sr4x", crop_size=32, length=6, seed=0)
    serial = [ds[i] for i in range(6)]
    targets = [t for _, t in serial]
    assert all(not torch.equal(targets[i], targets[j]) for i in range(6) for j in range(i))
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2, persistent_workers=True)
    parallel = [t[0] for _, t in loader]  # items 0, 2, 4 from worker 0; 1, 3, 5 from worker 1
    assert all(torch.equal(p, s) for p, s in zip(parallel, targets, strict=True))
    ds.set_epoch(2)
    parallel_epoch2 = [t[0] for _, t in loader]
    fresh = PairedDataset(folder, "sr4x", crop_size=32, length=6, seed=0)
    fresh.set_epoch(2)
    assert all(torch.equal(p, fresh[i][1]) for i, p in enumerate(parallel_epoch2))
    assert not torch.equal(parallel_epoch2[0], targets[0])


def test_paired_shapes_for_every_task(photos):
    shapes = {"denoise": (3, 32), "sr4x": (3, 8), "deblur": (3, 32), "jpeg": (3, 32), "demosaic": (1, 32)}
    for task, (channels, side) in shapes.items():
        degraded, target = PairedDataset(photos, task, crop_size=32)[0]
        assert degraded.shape == (channels, side, side)
        assert target.shape == (3, 32, 32)
    with pytest.raises(InputError, match="multiple of 4"):
        PairedDataset(photos, "sr4x", crop_size=30)


def test_bad_and_small_images_are_skipped_with_a_warning(photos):
    (photos / "broken.png").write_bytes(b"this is not a png")
    write_photos(photos / "sub", [(20, 200)])
    with pytest.warns(UserWarning) as record:
        ds = PairedDataset(photos, "denoise", crop_size=32)
    message = str(record[0].message)
    assert "broken.png (unreadable)" in message and "img00.png (20x200 px" in message
    assert len(ds.paths) == 3
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no usable image"):
        PairedDataset(photos, "denoise", crop_size=512)


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        PairedDataset(tmp_path / "empty", "denoise")
    with pytest.raises(InputError, match="neither a folder"):
        resolve_images(tmp_path / "missing")


def test_validation_set_is_deterministic(photos):
    a = ValidationDataset(photos, "deblur", crop_size=32, seed=0)
    b = ValidationDataset(photos, "deblur", crop_size=32, seed=0)
    for i in range(len(a)):
        assert all(torch.equal(x, y) for x, y in zip(a[i], b[i], strict=True))
    image = torch.from_numpy(np.array(Image.open(a.paths[0]))).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(a[0][1], image[:, 19:51, 29:61])  # centre crop of 70x90
    whole = ValidationDataset(photos, "sr4x", crop_size=None)
    degraded, target = whole[0]
    assert target.shape == (3, 68, 88) and degraded.shape == (3, 17, 22)


# ---------------------------------------------------------------- sources


def test_resolve_sources(photos, monkeypatch, tmp_path):
    assert [p.name for p in resolve_images(photos)] == ["img00.png", "img01.png", "img02.png"]
    assert resolve_images(photos / "img01.png") == [photos / "img01.png"]
    present = builtin_photos()
    if present:
        assert resolve_images("builtin") == [present[k] for k in sorted(present)]
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    with pytest.raises(InputError, match="pdloss data fetch debian-photos"):
        resolve_images("debian-photos")


# ---------------------------------------------------------------- debian-photos fetch logic


def fake_manifest(contents: dict[str, bytes]) -> dict:
    return {
        "packages": {"pkg-a": "1.0", "pkg-b": "2.0"},
        "files": {
            name: {
                "package": "pkg-a" if name.startswith("a-") else "pkg-b",
                "source": f"usr/share/{name}",
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for name, data in contents.items()
        },
    }


class FakeApt:
    """Stands in for apt-get download + dpkg-deb -x: 'packages' unpack to the given bytes."""

    def __init__(self, contents: dict[str, bytes]):
        self.contents = contents
        self.downloads: list[list[str]] = []

    def download(self, packages, folder, log):
        packages = list(packages)
        self.downloads.append(packages)
        debs = []
        for p in packages:
            (folder / f"{p}_1.0_all.deb").write_text(p)
            debs.append(folder / f"{p}_1.0_all.deb")
        return debs

    def extract(self, deb, destination, log):
        package = deb.read_text()
        for name, data in self.contents.items():
            if (package == "pkg-a") == name.startswith("a-"):
                target = destination / "usr/share" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)


def test_fetch_verifies_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.delenv("PDLOSS_OFFLINE")
    contents = {"a-one.jpg": b"first photo", "a-two.png": b"second", "b-three.jpg": b"third photo"}
    manifest = fake_manifest(contents)
    apt = FakeApt(contents)
    dest = tmp_path / "set"
    kw = {"manifest": manifest, "download": apt.download, "extract": apt.extract, "log": lambda m: None}
    result = debian.fetch_debian_photos(dest, **kw)
    assert result.status == "fetched" and result.count == 3
    assert {p.name for p in dest.iterdir()} == set(contents)
    assert apt.downloads == [["pkg-a", "pkg-b"]]
    again = debian.fetch_debian_photos(dest, **kw)
    assert again.status == "verified" and len(apt.downloads) == 1  # nothing downloaded
    (dest / "b-three.jpg").write_bytes(b"tampered")
    assert debian.verify_folder(dest, manifest).corrupt == ["b-three.jpg"]
    repaired = debian.fetch_debian_photos(dest, **kw)
    assert repaired.written == ["b-three.jpg"] and apt.downloads[-1] == ["pkg-b"]
    assert (dest / "b-three.jpg").read_bytes() == b"third photo"


def test_fetch_refuses_mismatching_package_files(tmp_path, monkeypatch):
    monkeypatch.delenv("PDLOSS_OFFLINE")
    manifest = fake_manifest({"a-one.jpg": b"expected bytes"})
    apt = FakeApt({"a-one.jpg": b"other version"})
    with pytest.raises(debian.DataFetchError, match="sha256"):
        debian.fetch_debian_photos(
            tmp_path / "set",
            manifest=manifest,
            download=apt.download,
            extract=apt.extract,
            log=lambda m: None,
        )
    assert not (tmp_path / "set" / "a-one.jpg").exists()


def test_fetch_offline_refuses(tmp_path):
    manifest = fake_manifest({"a-one.jpg": b"x"})
    with pytest.raises(debian.DataFetchError, match="PDLOSS_OFFLINE"):
        debian.fetch_debian_photos(tmp_path / "set", manifest=manifest)


def test_repository_manifest():
    manifest = debian.load_manifest()
    files = manifest["files"]
    assert len(files) == 36
    assert set(manifest["packages"]) == {"opencv-doc", "mate-backgrounds"}
    for name, entry in files.items():
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0
        assert entry["package"] in manifest["packages"]
        assert Path(entry["source"]).name in name
    assert {"opencv-baboon.jpg", "opencv-fruits.jpg", "opencv-butterfly.jpg", "mate-Aqua.jpg"} <= set(files)


def test_apt_knows_the_manifest_packages():
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available on this system")
    manifest = debian.load_manifest()
    # --print-uris reads the local package lists only: no network.
    done = subprocess.run(
        ["apt-get", "download", "--print-uris", *manifest["packages"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        pytest.skip(f"apt package lists unavailable: {done.stderr.strip()[-200:]}")
    for package, version in manifest["packages"].items():
        assert f"{package}_{version.replace(':', '%3a')}_" in done.stdout


# ---------------------------------------------------------------- command line


def test_cli_degrade_writes_pngs(photos, tmp_path, capsys):
    for task, side in [("denoise", None), ("sr4x", 4), ("demosaic", None), ("jpeg", None), ("deblur", None)]:
        out = tmp_path / task
        args = ["degrade", task, str(photos), str(out), "--seed", "5"]
        if task == "deblur":
            args += ["--save-kernels", str(tmp_path / "kernels")]
        if task == "sr4x":
            args += ["--write-clean"]
        assert main(args) == 0
        for src in sorted(photos.glob("*.png")):
            with Image.open(src) as a, Image.open(out / src.name) as b:
                w, h = a.size
                expected = (w // side, h // side) if side else (w - w % 2, h - h % 2)
                if task in ("denoise", "jpeg", "deblur"):
                    expected = (w, h)
                assert b.size == expected
                assert b.mode == ("L" if task == "demosaic" else "RGB")
    assert len(list((tmp_path / "kernels").glob("*.png"))) == 3
    with Image.open(tmp_path / "sr4x" / "clean" / "img00.png") as clean:
        assert clean.size == (88, 68)  # 90x70 trimmed to multiples of 4
    first = np.asarray(Image.open(tmp_path / "denoise" / "img00.png"))
    assert main(["degrade", "denoise", str(photos), str(tmp_path / "again"), "--seed", "5"]) == 0
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "again" / "img00.png")))
    # The same file stem gets the same noise in a different folder: seeds follow stems.
    (tmp_path / "solo").mkdir()
    shutil.copy(photos / "img00.png", tmp_path / "solo" / "img00.png")
    assert (
        main(["degrade", "denoise", str(tmp_path / "solo"), str(tmp_path / "solo_out"), "--seed", "5"]) == 0
    )
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "solo_out" / "img00.png")))
    assert main(["degrade", "denoise", str(photos), str(tmp_path / "x"), "--quality", "3"]) == 2
    assert "--quality does not apply to denoise" in capsys.readouterr().err


def test_cli_degrade_uses_kernel_bank(photos, tmp_path):
    from pdloss.degradations import save_kernel

    delta = torch.zeros(31, 31)
    delta[15, 15] = 1
    save_kernel(tmp_path / "bank" / "delta.npy", delta)
    args = ["degrade", "deblur", str(photos), str(tmp_path / "out"), "--kernels", str(tmp_path / "bank")]
    assert main([*args, "--noise-max", "0"]) == 0
    assert np.array_equal(
        np.asarray(Image.open(photos / "img01.png")), np.asarray(Image.open(tmp_path / "out" / "img01.png"))
    )


def test_cli_data_list(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "debian-photos" in out and "0/36" in out and "pdloss data fetch debian-photos" in out
    assert f"builtin {len(builtin_photos())}/10".replace(" ", "") in out.replace(" ", "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["data", "fetch", "debian-photos"]) == 2  # offline in tests: a clear refusal
    assert "PDLOSS_OFFLINE" in capsys.readouterr().err
    json.dumps(debian.load_manifest())


def test_source_slices_split_one_set(tmp_path):
    for i in range(5):
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(tmp_path / f"im{i}.png")
    names = [p.name for p in resolve_images(f"{tmp_path}[:2]")]
    assert names == ["im0.png", "im1.png"]
    assert [p.name for p in resolve_images(f"{tmp_path}[2:]")] == ["im2.png", "im3.png", "im4.png"]
    assert [p.name for p in resolve_images(f"{tmp_path}[-1:]")] == ["im4.png"]
    with pytest.raises(InputError, match="selects no image"):
        resolve_images(f"{tmp_path}[5:]")
