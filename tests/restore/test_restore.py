"""`pdloss restore`: a trained model applied to folders of images of any size, whole or tiled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pdloss.config.schema import config_from_dict
from pdloss.errors import InputError, PdlossError
from pdloss.imageio import read_image, to_uint8
from pdloss.restoration import Restorer, RestoreWarning, _axis_weights, restore, tile_spans
from pdloss.runs.checkpoint import save_checkpoint
from pdloss.runs.model import build_model_from_config

pytestmark = pytest.mark.usefixtures("one_thread")


def make_run(folder, task, **task_options):
    """A run folder with a checkpoint of a narrow small-unet whose correction branch is not near zero."""
    config = config_from_dict({
        "task": task,
        "task_options": task_options,
        "output": str(folder),
        "model": {"name": "small-unet", "options": {"widths": [8, 8, 8]}},
    })
    torch.manual_seed(1)
    model = build_model_from_config(config)
    with torch.no_grad():
        model.net.tail.weight.mul_(10)  # the init scales it by 0.1: undo, so the net visibly acts
    save_checkpoint({"step": 2, "config": config.to_dict(), "model": model.state_dict()}, folder / "checkpoints")
    return folder, model.eval()


def smooth_image(h, w, seed=0, channels=3):
    """8-bit photo-like content: bicubic-enlarged noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(h // 6, 2), max(w // 6, 2), channels), dtype=np.uint8)
    image = Image.fromarray(small[..., 0] if channels == 1 else small).resize((w, h), Image.BICUBIC)
    return image


@pytest.fixture(scope="module")
def denoise_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("denoise") / "run", "denoise", sigma=25)


def test_a_folder_is_restored_with_the_same_names(denoise_run, tmp_path):
    run, model = denoise_run
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    smooth_image(37, 53).save(src / "odd.png")  # odd sizes
    smooth_image(40, 24, seed=1).save(src / "b.jpg")
    smooth_image(20, 28, seed=2).save(src / "sub" / "c.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    with pytest.warns(RestoreWarning, match=r"skipping .*broken\.png"):
        result = restore(run, src, out, device="cpu", progress=False)
    assert sorted(p.relative_to(out).as_posix() for p in result.written) == ["b.png", "odd.png", "sub/c.png"]
    assert list(result.skipped) == [src / "broken.png"]
    written = Image.open(out / "odd.png")
    assert written.mode == "RGB" and written.size == (53, 37)
    # The file holds the model's output on the input, clipped and rounded to 8 bits.
    with torch.no_grad():
        expected = to_uint8(model(read_image(src / "odd.png")[None])[0].clamp(0, 1))
    np.testing.assert_array_equal(np.asarray(written), expected)
    assert Image.open(out / "b.png").size == (24, 40)


def test_existing_outputs_are_not_overwritten_without_overwrite(denoise_run, tmp_path):
    run, _ = denoise_run
    src = tmp_path / "in"
    src.mkdir()
    smooth_image(16, 16).save(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"keep me")
    with pytest.raises(InputError, match=r"a\.png already exist.*--overwrite"):
        restore(run, src, out, progress=False)
    assert (out / "a.png").read_bytes() == b"keep me"
    restore(run, src, out, overwrite=True, progress=False)
    assert Image.open(out / "a.png").size == (16, 16)


def test_bad_folders_are_clear_errors(denoise_run, tmp_path):
    run, _ = denoise_run
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(InputError, match="holds no image files"):
        restore(run, empty, tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="does not exist"):
        restore(run, tmp_path / "missing", tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="output folder is the input folder"):
        smooth_image(8, 8).save(empty / "a.png")
        restore(run, empty, empty, progress=False)
    only_broken = tmp_path / "broken"
    only_broken.mkdir()
    (only_broken / "x.png").write_bytes(b"garbage")
    with pytest.warns(RestoreWarning), pytest.raises(PdlossError, match="none of the 1 input"):
        restore(run, only_broken, tmp_path / "out2", progress=False)


def test_tile_spans_and_weights_partition_the_image():
    # Hand-computed: tiles of 168 stepping by 104, the last one ends at the border.
    assert tile_spans(300, 168, 64) == [(0, 168), (104, 272), (208, 300)]
    assert tile_spans(100, 168, 64) == [(0, 100)]
    with pytest.raises(InputError, match="twice the overlap"):
        tile_spans(300, 100, 64)
    spans = tile_spans(300, 168, 64)
    for scale in (1, 4):
        total = torch.zeros(300 * scale)
        for (start, end), weight in zip(spans, _axis_weights(spans, scale, 16), strict=True):
            total[scale * start : scale * end] += weight
        torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=1e-6)
    first, second = _axis_weights(spans, 1, 16)[:2]
    assert first[-16:].eq(0).all() and second[:16].eq(0).all()  # each tile's outer quarter is dropped
    assert first[:104 + 16].eq(1).all()


def test_a_large_image_is_tiled_and_equals_the_whole_image_result(denoise_run, tmp_path):
    run, _ = denoise_run
    image = read_image(_save(smooth_image(300, 260, seed=3), tmp_path / "big.png"))
    whole = Restorer(run, device="cpu", memory_gb=100)
    assert whole.tile_for(300, 260) is None
    tiled = Restorer(run, device="cpu", memory_gb=0.004)  # ~4 MB: the estimate of a whole pass is larger
    tile = tiled.tile_for(300, 260)
    assert tile is not None and tile < 260
    reference = whole(image)
    assert reference.shape == (3, 300, 260)
    calls = []
    handle = tiled.model.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape))
    result = tiled(image)
    handle.remove()
    assert len(calls) > 1 and all(max(shape[-2:]) <= tile for shape in calls)
    assert (result - reference).abs().max().item() <= 1e-5
    # An overlap whose quarter exceeds the network's receptive radius (~26 px) is exact.
    exact = Restorer(run, device="cpu", tile=256, overlap=128)(image)
    assert (exact - reference).abs().max().item() <= 1e-6


def test_sr4x_outputs_are_four_times_larger_tiled_or_not(tmp_path):
    run, model = make_run(tmp_path / "run", "sr4x")
    src = tmp_path / "lr"
    src.mkdir()
    smooth_image(13, 17).save(src / "small.png")
    smooth_image(130, 150, seed=4).save(src / "large.png")
    result = restore(run, src, tmp_path / "sr", device="cpu", tile=128, progress=False)  # 2x2 tiles
    assert len(result.written) == 2
    assert Image.open(tmp_path / "sr" / "small.png").size == (68, 52)
    assert Image.open(tmp_path / "sr" / "large.png").size == (600, 520)
    image = read_image(src / "large.png")
    whole = Restorer(run, device="cpu")(image)
    tiled = Restorer(run, device="cpu", tile=128)(image)  # the default overlap, 64 low-resolution px
    assert whole.shape == (3, 520, 600) and (tiled - whole).abs().max().item() <= 1e-5
    with torch.no_grad():
        torch.testing.assert_close(whole, model(image[None])[0], rtol=0, atol=1e-6)


def test_demosaic_reads_mosaics_and_skips_colour_files(denoise_run, tmp_path):
    from pdloss.degradations import build_degradation, seeded_generator

    run, model = make_run(tmp_path / "run", "demosaic", pattern="GRBG", sigma=2)
    assert model.pattern == "GRBG"
    src = tmp_path / "mosaics"
    src.mkdir()
    # A mosaic as `pdloss degrade demosaic` writes it: one-channel 8-bit PNG.
    clean = read_image(_save(smooth_image(31, 45, seed=5), tmp_path / "clean.png"))[None]
    task = build_degradation("demosaic", pattern="GRBG", sigma=2)
    mosaic = task(clean[..., :30, :44], seeded_generator(0, 1)).degraded[0]
    Image.fromarray(to_uint8(mosaic)).save(src / "m.png")
    smooth_image(20, 20).save(src / "colour.png")
    with pytest.warns(RestoreWarning, match=r"colour\.png is a colour image; a demosaic run takes one-channel"):
        result = restore(run, src, tmp_path / "rgb", progress=False)
    assert [p.name for p in result.written] == ["m.png"]
    written = Image.open(tmp_path / "rgb" / "m.png")
    assert written.mode == "RGB" and written.size == (44, 30)
    with torch.no_grad():
        expected = to_uint8(model(read_image(src / "m.png", mode="L")[None], pattern="GRBG")[0].clamp(0, 1))
    np.testing.assert_array_equal(np.asarray(written), expected)
    # Tiled: tile corners on the model's grid (a multiple of the Bayer tile), so each tile sees the
    # mosaic's pattern phase; a wrong phase would swap colours (errors ~0.3, not ~1e-3).
    mosaic_in = read_image(src / "m.png", mode="L")
    tiled = Restorer(run, device="cpu", tile=32, overlap=16)(mosaic_in)
    torch.testing.assert_close(tiled, Restorer(run, device="cpu")(mosaic_in), rtol=0, atol=5e-3)
    with pytest.raises(InputError, match="demosaic runs only"):
        Restorer(denoise_run[0], pattern="RGGB")


def test_the_command_line_and_pdloss_restore(denoise_run, tmp_path, capsys):
    import pdloss
    from pdloss.cli import main

    run, _ = denoise_run
    src = tmp_path / "in"
    src.mkdir()
    smooth_image(30, 40).save(src / "a.png")
    (src / "bad.png").write_bytes(b"nope")
    out = tmp_path / "out"
    assert main(["restore", str(run / "checkpoints" / "last.pt"), str(src), str(out), "--tile", "32",
                 "--device", "cpu", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"pdloss restore: warning: skipping {src / 'bad.png'}" in captured.err
    assert "wrote 1 restored image(s)" in captured.out and Image.open(out / "a.png").size == (40, 30)
    assert main(["restore", str(run), str(src), str(out), "--no-progress"]) == 2
    assert "already exist" in capsys.readouterr().err
    # One file in, a named .png out, through the package-level function.
    result = pdloss.restore(run, src / "a.png", tmp_path / "one" / "x.png", progress=False)
    assert result.written == [tmp_path / "one" / "x.png"]


def _save(image: Image.Image, path):
    image.save(path)
    return path


@pytest.mark.parametrize(("tile", "overlap", "atol"), [(37, 16, 2e-3), (50, 18, 2e-3), (131, 64, 1e-6)])
def test_tiles_off_the_stride_grid_equal_the_whole_image(denoise_run, tmp_path, tile, overlap, atol):
    """A tile side or overlap that is no multiple of the network's stride (4 px here) is put on its
    grid (the tile rounded down, the overlap up), so every tile sees the pixel grid the whole image
    would. Tiles placed off the grid differ from the whole image by about 0.2 (measured). Small
    tiles carry less context than the receptive field: within 2e-3, half the 8-bit step; an
    overlap whose quarter covers it (131 px tiles, 64 px overlap) agrees to float rounding."""
    run, _ = denoise_run
    image = read_image(_save(smooth_image(300, 260, seed=3), tmp_path / "big.png"))
    restorer = Restorer(run, device="cpu", tile=tile, overlap=overlap)
    assert restorer.stride == 4 and (tile % 4 or overlap % 4)
    calls = []
    handle = restorer.model.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape))
    tiled = restorer(image)
    handle.remove()
    assert len(calls) > 4 and all(max(shape[-2:]) <= tile for shape in calls)
    whole = Restorer(run, device="cpu")(image)
    assert (tiled - whole).abs().max().item() <= atol
