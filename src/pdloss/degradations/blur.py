"""Camera-shake blur (the deblurring task): random-trajectory kernels and their convolution.

Kernels follow Boracchi and Foi, "Modeling the performance of image restoration from motion
blur" (IEEE TIP 2012), the model used by Delbracio and Sapiro's burst deblurring:

- a particle starts with a random direction; at every one of ``num_samples`` steps its velocity
  receives a Gaussian perturbation (scale ``gaussian = 10 U``), a pull back towards its previous
  positions (``centripetal = 0.7 U``) and, with probability ``0.2 U * anxiety``, an abrupt shake
  that roughly reverses it; the velocity is renormalised so the path has length ``max_length``;
  ``anxiety = anxiety_max * U`` (0.1 U in the original) scales the perturbations;
- the path is centred on the ``size x size`` support as in the original code, and the kernel is
  the path sampled with bilinear splatting up to the exposure fraction ``e`` (the original's
  ``T``), which sets the blur intensity; finally the kernel is normalised to sum 1.

Defaults: 31x31 support (the paper's maximal support), ``max_length = 30`` (the original's 60 px
on a 64 px canvas, scaled), exposure ``e ~ U(0.1, 1)`` for varying intensity, and additive
Gaussian noise with ``sigma ~ U(0, 15)`` on the 0-255 scale (paper §5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from pdloss.degradations.base import Degradation, Degraded, rand, randn
from pdloss.errors import ImageReadError, InputError
from pdloss.validation import check_image_batch

PADDINGS = ("reflect", "replicate", "circular", "valid")


# Below this many trajectories the walk runs on Python complex scalars (numpy's per-call overhead
# dominates tiny arrays); both paths do the same floating-point operations.
PYTHON_WALK_BELOW = 8


def _walk_vector(v: np.ndarray, jump: np.ndarray, kick: np.ndarray, pull: np.ndarray, step_length: float) -> np.ndarray:
    """The particle walk vectorised over trajectories: positions ``(n, steps + 1)``."""
    steps, n = kick.shape
    x = np.zeros((steps + 1, n), dtype=np.complex128)
    for t in range(steps):
        v = v + v * jump[t] + kick[t] - pull * x[t]
        v = v * (step_length / np.maximum(np.abs(v), 1e-300))
        x[t + 1] = x[t] + v
    return x.T


def _walk_scalar(v: np.ndarray, jump: np.ndarray, kick: np.ndarray, pull: np.ndarray, step_length: float) -> np.ndarray:
    """The same walk, one trajectory at a time on Python complex numbers."""
    steps, n = kick.shape
    out = np.zeros((n, steps + 1), dtype=np.complex128)
    for k in range(n):
        vk, xk, pk = complex(v[k]), 0j, float(pull[k])
        path = [xk]
        for jump_t, kick_t in zip(jump[:, k].tolist(), kick[:, k].tolist(), strict=True):
            vk = vk + vk * jump_t + kick_t - pk * xk
            vk = vk * (step_length / max(abs(vk), 1e-300))
            xk = xk + vk
            path.append(xk)
        out[k] = path
    return out


def random_trajectories(
    n: int,
    generator: torch.Generator | None = None,
    size: int = 31,
    num_samples: int = 2000,
    max_length: float = 30.0,
    anxiety_max: float = 0.1,
) -> np.ndarray:
    """``n`` Boracchi-Foi random trajectories, complex ``(n, num_samples)`` (x + i y, 1-based pixels).

    The time loop is sequential by nature; it runs vectorised over the ``n`` trajectories (on
    Python scalars for fewer than ``PYTHON_WALK_BELOW``).
    """
    if n < 1 or num_samples < 2 or not max_length > 0:
        raise InputError(f"bad trajectory request: n={n}, num_samples={num_samples}, max_length={max_length}")
    params = rand((n, 5), generator).numpy()
    anxiety = anxiety_max * params[:, 0]
    centripetal = 0.7 * params[:, 1]
    gaussian = 10.0 * params[:, 2]
    freq_big_shakes = 0.2 * params[:, 3]
    init_angle = 2 * math.pi * params[:, 4]
    steps = num_samples - 1
    uniforms = rand((2, steps, n), generator).numpy()
    normals = torch.randn((2, steps, n), generator=generator, device=_device(generator), dtype=torch.float64)
    normals = normals.cpu().numpy()
    step_length = max_length / steps
    # Per-step terms of v <- v + [abrupt shake] + anxiety (gaussian N - centripetal x) L:
    # jump = 2 exp(i (pi + U - 1/2)) when a big shake occurs (else 0), kick = anxiety gaussian N L.
    big = uniforms[0] < freq_big_shakes * anxiety
    jump = np.where(big, 2 * np.exp(1j * (math.pi + (uniforms[1] - 0.5))), 0)
    kick = (normals[0] + 1j * normals[1]) * (anxiety * gaussian * step_length)
    pull = anxiety * centripetal * step_length
    v0 = np.exp(1j * init_angle)
    v_init = np.where(anxiety > 0, v0 * anxiety, v0 * step_length)
    walk = _walk_scalar if n < PYTHON_WALK_BELOW else _walk_vector
    x = walk(v_init, jump, kick, pull, step_length)
    # Centre on the support exactly as the original (MATLAB rem == numpy fmod).
    x = x - 1j * x.imag.min(axis=1, keepdims=True) - x.real.min(axis=1, keepdims=True)
    x0 = x[:, :1]
    x = x - 1j * np.fmod(x0.imag, 1) - np.fmod(x0.real, 1) + 1 + 1j
    x = (
        x
        + 1j * np.ceil((size - x.imag.max(axis=1, keepdims=True)) / 2)
        + np.ceil((size - x.real.max(axis=1, keepdims=True)) / 2)
    )
    return x


def trajectory_kernels(trajectories: np.ndarray, size: int = 31, exposure: np.ndarray | float = 1.0) -> np.ndarray:
    """Sample trajectories ``(n, T)`` into kernels ``(n, size, size)`` summing to 1.

    Bilinear splatting as Boracchi and Foi's ``createPSFs``: sample t (1-based) weighs
    ``clip(e T - (t - 1), 0, 1)`` for exposure fraction e; positions are clamped to the support.
    """
    n, num_t = trajectories.shape
    exposure = np.broadcast_to(np.asarray(exposure, dtype=np.float64), (n,))
    if np.any(exposure <= 0) or np.any(exposure > 1):
        raise InputError(f"exposure fractions must lie in (0, 1], got {exposure}")
    t = np.arange(1, num_t + 1)
    time_weight = np.clip(exposure[:, None] * num_t - (t[None, :] - 1), 0, 1)
    re, im = trajectories.real, trajectories.imag
    m2 = np.clip(np.floor(re), 1, size - 1)
    m1 = np.clip(np.floor(im), 1, size - 1)

    def tri(d: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, 1 - np.abs(d))

    rows = np.stack([m1, m1, m1 + 1, m1 + 1], axis=-1)
    cols = np.stack([m2, m2 + 1, m2, m2 + 1], axis=-1)
    weights = tri(re[..., None] - cols) * tri(im[..., None] - rows) * time_weight[..., None]
    flat = (np.arange(n)[:, None, None] * size * size + (rows - 1) * size + (cols - 1)).astype(np.int64)
    kernels = np.bincount(flat.ravel(), weights=weights.ravel(), minlength=n * size * size)
    kernels = kernels.reshape(n, size, size)
    return kernels / kernels.sum(axis=(1, 2), keepdims=True)


def camera_shake_kernels(
    n: int,
    generator: torch.Generator | None = None,
    size: int = 31,
    exposure_range: tuple[float, float] = (0.1, 1.0),
    num_samples: int = 2000,
    max_length: float | None = None,
    anxiety_max: float = 0.1,
) -> torch.Tensor:
    """``n`` random camera-shake kernels ``(n, size, size)`` float32, non-negative, summing to 1."""
    if size < 3 or size % 2 == 0:
        raise InputError(f"kernel size must be odd and >= 3, got {size}")
    lo, hi = exposure_range
    if not 0 < lo <= hi <= 1:
        raise InputError(f"exposure_range must satisfy 0 < low <= high <= 1, got {exposure_range}")
    length = float(size - 1) if max_length is None else float(max_length)
    traj = random_trajectories(n, generator, size, num_samples, length, anxiety_max)
    exposure = lo + (hi - lo) * rand((n,), generator).numpy()
    return torch.from_numpy(trajectory_kernels(traj, size, exposure)).float()


def blur(images: torch.Tensor, kernels: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """Convolve each image of ``(B, C, H, W)`` with its kernel (``(B, k, k)``) or one ``(k, k)`` kernel.

    A true convolution (a point light becomes the kernel), computed with FFTs. ``padding``
    extends the image by ``k // 2`` pixels ("reflect", "replicate", "circular") to keep its
    size, or is "valid" (output ``H - k + 1`` by ``W - k + 1``, no invented pixels).
    """
    if padding not in PADDINGS:
        raise InputError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if kernels.ndim == 2:
        kernels = kernels.expand(images.shape[0], *kernels.shape)
    if kernels.ndim != 3 or kernels.shape[0] != images.shape[0] or kernels.shape[1] != kernels.shape[2]:
        raise InputError(f"kernels must be (B, k, k) or (k, k) square, got {tuple(kernels.shape)}")
    k = kernels.shape[-1]
    if k % 2 == 0:
        raise InputError(f"kernel size must be odd, got {k}")
    r = k // 2
    if padding != "valid":
        if padding == "reflect" and min(images.shape[-2:]) <= r:
            raise InputError(f"images of {tuple(images.shape[-2:])} px are too small to reflect-pad by {r}")
        images = F.pad(images, (r, r, r, r), mode=padding)
    hp, wp = images.shape[-2:]
    if hp < k or wp < k:
        raise InputError(f"images of {hp}x{wp} px are smaller than the {k}x{k} kernel")
    dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
    spec_x = torch.fft.rfft2(images.to(dtype), s=(hp, wp))
    spec_k = torch.fft.rfft2(kernels.to(images.device, dtype), s=(hp, wp))
    # Circular convolution of size (hp, wp): outputs from k - 1 on do not wrap.
    out = torch.fft.irfft2(spec_x * spec_k[:, None], s=(hp, wp))[..., k - 1 :, k - 1 :]
    return out.to(images.dtype).contiguous()


@dataclass
class CameraShakeBlur(Degradation):
    """Deblurring: random camera-shake blur of varying intensity plus noise of random level.

    Each image gets its own kernel (from ``kernels``, a fixed bank ``(N, k, k)``, when given;
    otherwise a fresh random kernel) and noise ``sigma ~ U(noise_sigma_min, noise_sigma_max)`` on
    the 0-255 scale. With ``padding="valid"`` the target is the clean image without its
    ``size // 2`` border, so degraded and target stay aligned and the same size.
    extras: ``kernels`` (B, k, k), ``sigma`` (B,) on the 0-255 scale.
    """

    task: ClassVar[str] = "deblur"
    size: int = 31
    noise_sigma_min: float = 0.0
    noise_sigma_max: float = 15.0
    exposure_min: float = 0.1
    exposure_max: float = 1.0
    anxiety_max: float = 0.1
    num_samples: int = 2000
    padding: str = "reflect"
    kernels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.noise_sigma_min <= self.noise_sigma_max:
            raise InputError(
                f"need 0 <= noise_sigma_min <= noise_sigma_max, got {self.noise_sigma_min}, {self.noise_sigma_max}"
            )
        if self.padding not in PADDINGS:
            raise InputError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        if self.kernels is not None:
            self.kernels = check_kernels(self.kernels)
            self.size = int(self.kernels.shape[-1])

    def draw_kernels(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if self.kernels is not None:
            index = torch.randint(len(self.kernels), (n,), generator=generator, device=_device(generator))
            return self.kernels[index.cpu()]
        return camera_shake_kernels(
            n,
            generator,
            self.size,
            (self.exposure_min, self.exposure_max),
            self.num_samples,
            anxiety_max=self.anxiety_max,
        )

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        b = clean.shape[0]
        kernels = self.draw_kernels(b, generator)
        sigma = self.noise_sigma_min + (self.noise_sigma_max - self.noise_sigma_min) * rand((b,), generator)
        blurred = blur(clean, kernels.to(clean.device), self.padding)
        noise = randn(tuple(blurred.shape), generator, blurred)
        degraded = blurred + (sigma.to(blurred.device, blurred.dtype) / 255.0).view(-1, 1, 1, 1) * noise
        target = clean
        if self.padding == "valid":
            r = self.size // 2
            target = clean[..., r:-r, r:-r]
        return Degraded(degraded, target, {"kernels": kernels, "sigma": sigma.float()})


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def check_kernels(kernels: torch.Tensor) -> torch.Tensor:
    """Validate a kernel bank ``(N, k, k)`` (or one ``(k, k)``): odd square, non-negative, sum 1."""
    kernels = torch.as_tensor(kernels)
    if not kernels.is_floating_point():
        kernels = kernels.float()
    if kernels.ndim == 2:
        kernels = kernels[None]
    if kernels.ndim != 3 or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[-1] % 2 == 0:
        raise InputError(f"kernels must be odd squares (N, k, k), got {tuple(kernels.shape)}")
    if not torch.isfinite(kernels).all() or (kernels < 0).any():
        raise InputError("kernels must be finite and non-negative")
    sums = kernels.sum(dim=(1, 2))
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        raise InputError(f"kernels must sum to 1, got sums between {sums.min():.4g} and {sums.max():.4g}")
    return kernels


def save_kernel(path: str | Path, kernel: torch.Tensor) -> Path:
    """Write one kernel ``(k, k)``: ``.npy`` (float64, exact) or ``.png`` (16-bit, peak = 65535).

    A PNG stores the kernel up to a scale (renormalised on reading), with 1/65535 of the peak
    as resolution.
    """
    path = Path(path)
    k = check_kernels(kernel)[0].double().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, k)
    elif path.suffix.lower() == ".png":
        from PIL import Image

        levels = np.round(k / k.max() * 65535).astype(np.uint16)
        Image.fromarray(levels).save(path)
    else:
        raise InputError(f"kernel files are .npy or .png, got {path.name}")
    return path


def load_kernel(path: str | Path) -> torch.Tensor:
    """Read a kernel written by :func:`save_kernel` (or any non-negative grey PNG / 2-D .npy),
    normalised to sum 1: ``(k, k)`` float32."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            k = np.load(path, allow_pickle=False).astype(np.float64)
        elif path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as im:
                k = np.asarray(im, dtype=np.float64)
        else:
            raise InputError(f"kernel files are .npy or .png, got {path.name}")
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise ImageReadError(f"cannot read kernel file {path}: {exc}") from exc
    if k.ndim != 2 or k.sum() <= 0:
        raise InputError(f"kernel file {path} must hold a 2-D array with a positive sum, got shape {k.shape}")
    return check_kernels(torch.from_numpy(k / k.sum()).float())[0]


def save_kernels(folder: str | Path, kernels: torch.Tensor, fmt: str = "png") -> list[Path]:
    """Write a bank ``(N, k, k)`` as ``kernel_0000.png`` ... (``fmt`` "png" or "npy")."""
    kernels = check_kernels(kernels)
    if fmt not in ("png", "npy"):
        raise InputError(f"fmt must be 'png' or 'npy', got {fmt!r}")
    return [save_kernel(Path(folder) / f"kernel_{i:04d}.{fmt}", k) for i, k in enumerate(kernels)]


def load_kernels(folder: str | Path) -> torch.Tensor:
    """Read every ``*.png`` / ``*.npy`` kernel of a folder (sorted by name) into ``(N, k, k)``."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".npy")) if folder.is_dir() else []
    if not files:
        raise InputError(f"no kernel files (.png or .npy) in {folder}")
    kernels = [load_kernel(p) for p in files]
    sizes = {tuple(k.shape) for k in kernels}
    if len(sizes) != 1:
        raise InputError(f"kernels in {folder} have different sizes: {sorted(sizes)}")
    return torch.stack(kernels)


def camera_shake_blur(images: torch.Tensor, kernels: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """Functional form on a checked batch: :func:`blur` with validated kernels."""
    check_image_batch(images, "images", channels=None)
    checked = check_kernels(kernels)
    return blur(images, checked if kernels.ndim == 3 else checked[0], padding)
