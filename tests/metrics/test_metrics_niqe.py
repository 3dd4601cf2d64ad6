"""NIQE against basicsr 1.4.2's own calculate_niqe, and the MATLAB-compatible imresize.

Reference values were computed once, outside the repository, with basicsr 1.4.2's code run
standalone: ``pip download --no-deps --no-binary :all: basicsr==1.4.2``, then from the source
archive ``basicsr/metrics/niqe.py`` (``scipy.ndimage.filters`` import changed to
``scipy.ndimage``; its cv2 import removed, unused for ``convert_to='y'``), ``metric_util.py``,
``utils/color_util.py``, ``utils/matlab_functions.py`` and ``niqe_pris_params.npz`` in a scratch
package. Each image was read as here (``pdloss.imageio.read_image``), cropped, turned into uint8
(``to_uint8``), flipped to BGR, and passed to
``calculate_niqe(bgr, crop_border=B, input_order='HWC', convert_to='y')``.
The imresize references are basicsr's ``imresize`` (a port of MATLAB's) on float32 arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import gradcheck
from pdloss.data.builtin import builtin_photos
from pdloss.degradations.resize import resize_matrix
from pdloss.errors import InputError, WeightsError
from pdloss.imageio import read_image
from pdloss.metrics import imresize, niqe, niqe_params_path
from pdloss.metrics import niqe_params as params_module

pytestmark = pytest.mark.usefixtures("one_thread")


# (photo, rows, columns, crop_border) -> basicsr 1.4.2 calculate_niqe
BASICSR_NIQE = [
    ("astronaut", (0, 200), (0, 300), 0, 4.56564311060422),
    ("chelsea", (0, 300), (0, 451), 0, 2.625524381291432),
    ("coffee", (50, 350), (100, 400), 4, 7.180567354761192),
]


def _ramp() -> np.ndarray:
    a = (np.arange(64, dtype=np.float64).reshape(8, 8) ** 1.5) / (63**1.5)
    a[2, 5], a[6, 1] = 1.0, 0.0
    return a


def test_imresize_matches_basicsr_matlab_port():
    a = torch.from_numpy(_ramp())
    expected_half = np.array(
        [
            [0.02074827, 0.03030602, 0.08431451, 0.0751813],
            [0.18730721, 0.20108514, 0.3936114, 0.30830973],
            [0.41116118, 0.4718111, 0.5064152, 0.5544009],
            [0.6600809, 0.7829045, 0.86244774, 0.90580183],
        ]
    )
    np.testing.assert_allclose(imresize(a, 0.5).numpy(), expected_half, atol=2e-7)
    odd = np.array(
        [
            [0.02074827, 0.03377295, 0.04434048],
            [0.18730721, 0.21443774, 0.23386322],
            [0.43078846, 0.48511398, 0.5193441],
            [0.43274057, 0.64690465, 0.7587873],
        ]
    )
    np.testing.assert_allclose(imresize(a[:7, :5], 0.5).numpy(), odd, atol=2e-7)
    b = torch.tensor([[0.0, 1.0, 0.25], [0.5, 0.75, 1.0], [0.1, 0.9, 0.3]], dtype=torch.float64)
    row = [0.03267821, 0.29284975, 0.8131928, 0.89736027, 0.5453521, 0.3693481]
    np.testing.assert_allclose(imresize(b, 2)[1].numpy(), row, atol=2e-7)


def test_imresize_properties_and_gradient():
    # Rows of the resize matrix sum to 1 (constants are kept), output size is ceil(n * scale).
    for n, scale in ((10, 0.5), (9, 0.5), (7, 0.25), (5, 3.0)):
        m = torch.tensor(resize_matrix(n, math.ceil(n * scale), scale))
        torch.testing.assert_close(m.sum(1), torch.ones(m.shape[0], dtype=torch.float64))
    x = torch.rand(2, 3, 9, 10, dtype=torch.float64, requires_grad=True)
    assert imresize(x, 0.5).shape == (2, 3, 5, 5)
    assert imresize(x, size=(4, 20)).shape == (2, 3, 4, 20)
    assert gradcheck(lambda t: imresize(t, 0.5), (x,), fast_mode=True)
    with pytest.raises(InputError):
        imresize(x)


@pytest.mark.parametrize(("name", "rows", "cols", "border", "expected"), BASICSR_NIQE)
def test_niqe_matches_basicsr(name, rows, cols, border, expected):
    photos = builtin_photos()
    if name not in photos:
        pytest.skip(f"built-in photo {name} is not installed")
    x = read_image(photos[name])[:, rows[0] : rows[1], cols[0] : cols[1]][None]
    assert niqe(x, crop_border=border).item() == pytest.approx(expected, abs=1e-3)


def test_niqe_batch_grey_and_errors():
    photos = builtin_photos()
    if "chelsea" not in photos:
        pytest.skip("built-in photo chelsea is not installed")
    x = read_image(photos["chelsea"])[None, :, :200, :300]
    both = niqe(torch.cat([x, x.flip(-1)]))
    assert both.shape == (2,)
    assert both[0].item() == pytest.approx(niqe(x).item(), abs=1e-12)
    # A grey input is its own luma: MATLAB Y of the colour image, given as one channel, agrees.
    from pdloss.metrics import rgb_to_y

    assert niqe(rgb_to_y(x)).item() == pytest.approx(niqe(x).item(), abs=1e-9)
    with pytest.raises(InputError, match="96x96"):
        niqe(x[..., :90, :90])
    with pytest.raises(InputError, match="range"):
        niqe(x * 255)


def test_params_bundled_and_install_from_archive(tmp_path, monkeypatch):
    assert niqe_params_path() is not None
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    fake = tmp_path / "basicsr-1.4.2.tar.gz"
    fake.write_bytes(b"not an archive")
    with pytest.raises(WeightsError, match="corrupt or not the expected file"):
        params_module.install_niqe_params(sdist=fake, progress=False)
    # Extraction itself: an archive holding the right member with the right bytes.
    import tarfile

    archive = tmp_path / "made.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(params_module.bundled_params_file(), arcname=params_module.SDIST_MEMBER)
    target = params_module.extract_params(archive, params_module.params_file())
    assert params_module.niqe_params_path() == target
    loaded = params_module.load_niqe_params()
    assert loaded["mu_pris_param"].shape == (36,) and loaded["cov_pris_param"].shape == (36, 36)
    # Offline (the tests' setting), a download is refused with a clear message.
    target.unlink()
    with pytest.raises(WeightsError, match="not downloading"):
        params_module.install_niqe_params(progress=False)
