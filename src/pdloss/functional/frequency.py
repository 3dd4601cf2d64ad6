"""Pure tensor maths of the Frequency Distribution Loss (FDL; Ni et al., CVPR 2024, "Misalignment-robust
frequency distribution loss for image transformation").

Per feature map ``(B, C, H, W)``: the 2-D DFT over H and W, its amplitude and phase, and for each a
*patch sliced-Wasserstein distance*: K random unit-norm ``C x p x p`` kernels applied as a
convolution (the projections of every ``p x p`` patch), the projected values sorted over positions,
and the mean absolute difference of the sorted values (the 1-D W1 between the two empirical
distributions, averaged over the K projections). ``FDL = amplitude + phase_weight * phase``.

Where this differs from the published code (eezkni/FDL), on purpose:

- The phase of a DFT coefficient is undefined where the coefficient is 0, and its gradient
  ``1/|F|`` explodes near 0 (NaN once ``|F|^2`` underflows). Here the phase of a coefficient with
  ``|F| <= phase_eps * max|F|`` over its map (the threshold detached; at least ``4 sqrt(tiny)`` of
  the dtype) is taken as 0 with a zero gradient (:func:`amplitude_phase`): these coefficients
  are at the FFT's rounding level (about 2e-8 of the largest in float32), so their phase is noise.
  Likewise a coefficient whose imaginary part is below that threshold is taken as real (phase 0 or
  pi): the sign of rounding noise would otherwise flip its phase between pi and -pi.
- The projection convolution, sort and gradient run in chunks of projections inside one autograd
  node that computes the gradient in its forward pass (:func:`patch_sliced_wasserstein`): memory
  is one chunk's projected values, not all K of them kept for backward. The value and gradient are
  the ones plain autograd gives (gradient through the sort permutation); it is not twice
  differentiable.
- Everything runs in float32 (float64 stays float64), also under autocast: torch.fft takes no
  bfloat16, and sorted differences in half precision lose the gaps the loss measures.

Nothing here imports a network: features in, distances out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.validation import check_reduction, reduce

__all__ = [
    "AUTO_CHUNK_VALUES",
    "amplitude_phase",
    "frequency_distribution_distance",
    "frequency_distribution_terms",
    "make_patch_projections",
    "patch_sliced_wasserstein",
]

# chunk_size="auto": as many projections per chunk as keep B * k * positions <= this many projected
# values per map (about 50 bytes each alive at once: both maps' values, sorted values, sort indices,
# differences, scattered gradients), i.e. a few hundred MiB per chunk.
AUTO_CHUNK_VALUES = 1 << 22
SMALL_MAPS = ("error", "shrink")
FFT_NORMS = ("backward", "ortho", "forward")


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    dtype = torch.float32
    for t in tensors:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def make_patch_projections(
    num_proj: int,
    channels: int,
    patch_size: int = 5,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``num_proj`` kernels ``(K, C, p, p)``, each uniform on the unit sphere of ``C*p*p`` dimensions
    (a Gaussian draw divided by its norm, drawn in float64 on the CPU with ``generator``)."""
    for name, value in (("num_proj", num_proj), ("channels", channels), ("patch_size", patch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    kernels = torch.randn(num_proj, channels, patch_size, patch_size, generator=generator, dtype=torch.float64)
    kernels = kernels / kernels.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
    return kernels.to(dtype)


def amplitude_phase(
    x: torch.Tensor, phase_eps: float = 1e-6, norm: str = "backward"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitude and phase of the 2-D DFT of ``x`` ``(..., H, W)`` over its last two axes.

    Returns two real tensors of ``x``'s shape, in at least float32 (computed with autocast off):
    ``|F|`` (>= 0; its gradient at ``F == 0`` is 0, as torch's) and ``angle(F)`` in ``[-pi, pi]``.
    With ``t = max(phase_eps * max over the map of |F|, 4 sqrt(tiny))`` (detached): the phase is 0,
    with a zero gradient, where ``|F| <= t``; exactly 0 or pi (by the sign of ``Re F``), with a zero
    gradient in ``Im F``, where ``|Im F| <= t`` (real up to rounding). Elsewhere its gradient is
    that of ``atan2(Im F, Re F)``, bounded by ``1 / t``. ``norm`` is torch.fft's (``"backward"``: no scaling, as FDL).
    """
    if norm not in FFT_NORMS:
        raise InputError(f"fft norm must be one of {FFT_NORMS}, got {norm!r}")
    if not isinstance(phase_eps, (int, float)) or isinstance(phase_eps, bool) or not 0 <= phase_eps < 1:
        raise InputError(f"phase_eps must be a number in [0, 1), got {phase_eps!r}")
    dtype = _compute_dtype(x)
    with torch.autocast(device_type=x.device.type, enabled=False):
        spectrum = torch.fft.fft2(x.to(dtype), norm=norm)
        amplitude = spectrum.abs()
        real, imag = spectrum.real, spectrum.imag
        with torch.no_grad():
            floor = math.sqrt(torch.finfo(dtype).tiny) * 4  # |F|^2 stays a normal number above it
            threshold = (phase_eps * amplitude.amax(dim=(-2, -1), keepdim=True)).clamp_min(floor)
            defined = amplitude > threshold
            # Real up to rounding: always at the self-conjugate frequencies (index 0 and, for an even
            # side, H/2 or W/2), and wherever a sparse relu map's structure makes F real. The sign of
            # such an imaginary part is rounding noise, and it would flip a negative coefficient's
            # phase between pi and -pi from one call (or one finite-difference step) to the next.
            real_valued = imag.abs() <= threshold
        # The double `where`: masked entries feed atan2 a harmless (1, 0), so that no inf/NaN of the
        # unselected branch leaks into the gradient.
        im = torch.where(defined & ~real_valued, imag, 0.0)
        safe = torch.atan2(im, torch.where(defined, real, 1.0))
        phase = torch.where(defined, safe, 0.0)
    return amplitude, phase


def _positions(size: int, patch: int, stride: int) -> int:
    return (size - patch) // stride + 1


def _effective_kernels(projections: torch.Tensor, height: int, width: int, small_maps: str) -> torch.Tensor:
    patch_h, patch_w = projections.shape[-2:]
    if height >= patch_h and width >= patch_w:
        return projections
    if small_maps == "error":
        raise InputError(
            f"a {height}x{width} feature map is smaller than the {patch_h}x{patch_w} patch; use larger crops, "
            "shallower layers, a smaller patch_size, or small_maps='shrink' (the patch then shrinks to the map)"
        )
    # "shrink": the top-left block of each kernel, renormalised: a uniform direction of the
    # smaller patch space (the marginal of a uniform direction, rescaled).
    cut = projections[..., : min(patch_h, height), : min(patch_w, width)]
    return cut / cut.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)


def _chunk(chunk_size: int | str | None, total: int, per_projection: int) -> int:
    if chunk_size is None:
        return total
    if chunk_size == "auto":
        return max(1, min(total, AUTO_CHUNK_VALUES // max(1, per_projection)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}")
    return min(total, chunk_size)


class _PatchSlicedW1(torch.autograd.Function):
    """Per image ``mean over K projections and positions of |sort(conv(x)) - sort(conv(y))|``, with
    the gradient into ``x`` and ``y`` accumulated chunk by chunk during the forward pass."""

    @staticmethod
    def forward(ctx, x, y, kernels, stride, chunk):
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        batch = x.shape[0]
        total = torch.zeros(batch, dtype=x.dtype, device=x.device)
        grad_x = torch.zeros_like(x) if need_x else None
        grad_y = torch.zeros_like(y) if need_y else None
        count = None
        for start in range(0, kernels.shape[0], chunk):  # chunks of projections, not one per projection
            part = kernels[start : start + chunk]
            px = F.conv2d(x, part, stride=stride)
            py = F.conv2d(y, part, stride=stride)
            shape = px.shape
            sx, ix = torch.sort(px.flatten(2), dim=-1)
            sy, iy = torch.sort(py.flatten(2), dim=-1)
            del px, py
            diff = sx - sy
            del sx, sy
            total += diff.abs().sum(dim=(1, 2))
            count = kernels.shape[0] * diff.shape[-1]
            if need_x or need_y:
                sign = diff.sign_()  # d|a - b|/da; 0 where equal, as torch's abs
                if need_x:
                    back = torch.zeros_like(sign).scatter_(-1, ix, sign).view(shape)
                    grad_x += torch.nn.grad.conv2d_input(x.shape, part, back, stride=stride)
                if need_y:
                    back = torch.zeros_like(sign).scatter_(-1, iy, sign).view(shape)
                    grad_y -= torch.nn.grad.conv2d_input(y.shape, part, back, stride=stride)
            del diff, ix, iy
        scale = 1.0 / count
        for grad in (grad_x, grad_y):
            if grad is not None:
                grad.mul_(scale)
        ctx.save_for_backward(grad_x, grad_y)
        return total * scale

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        grad_x, grad_y = ctx.saved_tensors
        weight = grad_out.view(-1, 1, 1, 1)
        return (
            grad_x * weight if grad_x is not None else None,
            grad_y * weight if grad_y is not None else None,
            None,
            None,
            None,
        )


def _check_features(fu: torch.Tensor, fv: torch.Tensor) -> None:
    for name, t in (("fu", fu), ("fv", fv)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise InputError(f"{name} must be a floating-point tensor, got {getattr(t, 'dtype', type(t))}")
        if t.ndim != 4:
            raise InputError(f"{name} must have shape (B, C, H, W), got {tuple(t.shape)}")
    if fu.shape != fv.shape:
        raise InputError(
            f"fu and fv must have the same shape (the sorted projections are compared position count by "
            f"position count), got {tuple(fu.shape)} and {tuple(fv.shape)}"
        )


def patch_sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    projections: torch.Tensor,
    stride: int = 1,
    chunk_size: int | str | None = "auto",
    small_maps: str = "error",
) -> torch.Tensor:
    """Patch sliced-Wasserstein distance between two maps, per image: ``(B,)``.

    Args:
        x, y: ``(B, C, H, W)`` real maps (same shape).
        projections: ``(K, C, p, p)`` kernels (unit norm each, see :func:`make_patch_projections`).
        stride: stride of the patch grid (positions ``((H - p) // stride + 1) x ((W - p) // stride + 1)``).
        chunk_size: projections per chunk; ``"auto"`` (about :data:`AUTO_CHUNK_VALUES` projected
            values of the batch per chunk) or None (all K at once).
        small_maps: ``"error"`` where a map is smaller than the patch, or ``"shrink"`` (the patch
            shrinks to the map: each kernel's top-left block, renormalised).

    Returns:
        ``mean_k mean_n |sort(x * w_k)_n - sort(y * w_k)_n|`` (``*``: valid cross-correlation),
        in at least float32, differentiable in ``x`` and ``y`` (once).
    """
    _check_features(x, y)
    if small_maps not in SMALL_MAPS:
        raise InputError(f"small_maps must be one of {SMALL_MAPS}, got {small_maps!r}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise InputError(f"stride must be a positive integer, got {stride!r}")
    if not isinstance(projections, torch.Tensor) or projections.ndim != 4 or projections.shape[1] != x.shape[1]:
        raise InputError(
            f"projections must have shape (K, C={x.shape[1]}, p, p), got {tuple(getattr(projections, 'shape', ()))}"
        )
    dtype = _compute_dtype(x, y)
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = x.to(dtype).contiguous(), y.to(dtype).contiguous()
        kernels = _effective_kernels(projections, x.shape[-2], x.shape[-1], small_maps)
        kernels = kernels.to(device=x.device, dtype=dtype).contiguous()
        rows, cols = (_positions(x.shape[i], kernels.shape[i], stride) for i in (-2, -1))
        chunk = _chunk(chunk_size, kernels.shape[0], x.shape[0] * rows * cols)
        # A custom Function sees needs_input_grad True under no_grad too: detach what needs no
        # gradient, so that no gradient is computed for it (e.g. the target, or evaluation).
        grad_mode = torch.is_grad_enabled()
        x = x if grad_mode and x.requires_grad else x.detach()
        y = y if grad_mode and y.requires_grad else y.detach()
        return _PatchSlicedW1.apply(x, y, kernels, stride, chunk)


def frequency_distribution_terms(
    fu: torch.Tensor,
    fv: torch.Tensor,
    projections_amp: torch.Tensor,
    projections_phase: torch.Tensor | None = None,
    stride: int = 1,
    chunk_size: int | str | None = "auto",
    small_maps: str = "error",
    phase_eps: float = 1e-6,
    fft_norm: str = "backward",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The amplitude and phase terms of FDL on one layer, per image: two ``(B,)`` tensors.

    ``projections_phase=None`` uses ``projections_amp`` for the phase too (as the published FDL).
    Other arguments as in :func:`frequency_distribution_distance`.
    """
    _check_features(fu, fv)
    amp_u, phase_u = amplitude_phase(fu, phase_eps, fft_norm)
    amp_v, phase_v = amplitude_phase(fv, phase_eps, fft_norm)
    shared = dict(stride=stride, chunk_size=chunk_size, small_maps=small_maps)
    amplitude = patch_sliced_wasserstein(amp_u, amp_v, projections_amp, **shared)
    phase_kernels = projections_amp if projections_phase is None else projections_phase
    phase = patch_sliced_wasserstein(phase_u, phase_v, phase_kernels, **shared)
    return amplitude, phase


def frequency_distribution_distance(
    fu: torch.Tensor,
    fv: torch.Tensor,
    projections_amp: torch.Tensor,
    projections_phase: torch.Tensor | None = None,
    stride: int = 1,
    phase_weight: float = 1.0,
    reduction: str = "mean",
    chunk_size: int | str | None = "auto",
    small_maps: str = "error",
    phase_eps: float = 1e-6,
    fft_norm: str = "backward",
) -> torch.Tensor:
    """FDL's distance between the prediction's and the target's features of one layer.

    Args:
        fu: features ``(B, C, H, W)`` of the prediction (any real values).
        fv: features of the target, same shape as ``fu``.
        projections_amp: ``(K, C, p, p)`` unit-norm kernels for the amplitude (FDL: K=256, p=5);
            the patch size is their kernel size.
        projections_phase: kernels for the phase, or None to share ``projections_amp`` (FDL).
        stride: stride of the patch grid (FDL: 1).
        phase_weight: weight of the phase term (FDL: 1.0).
        reduction: ``"none"`` (``(B,)``), ``"mean"`` or ``"sum"`` over the batch.
        chunk_size: projections per chunk (memory bound); ``"auto"`` or None (all at once).
        small_maps: ``"error"`` or ``"shrink"`` where a map is smaller than the patch.
        phase_eps: phases of coefficients with ``|F| <= phase_eps * max|F|`` are 0, gradient 0.
        fft_norm: torch.fft norm (``"backward"``: unscaled DFT as FDL, amplitudes grow with H*W;
            ``"ortho"`` divides by ``sqrt(H*W)``).

    Returns:
        Per image ``SWD(|F fu|, |F fv|) + phase_weight * SWD(angle F fu, angle F fv)``, reduced;
        at least float32.
    """
    reduction = check_reduction(reduction)
    if isinstance(phase_weight, bool) or not isinstance(phase_weight, (int, float)) or not phase_weight >= 0:
        raise InputError(f"phase_weight must be a non-negative number, got {phase_weight!r}")
    if phase_weight == 0:  # the phase pass would only be multiplied by 0
        _check_features(fu, fv)
        shared = dict(stride=stride, chunk_size=chunk_size, small_maps=small_maps)
        amp_u, _ = amplitude_phase(fu, phase_eps, fft_norm)
        amp_v, _ = amplitude_phase(fv, phase_eps, fft_norm)
        return reduce(patch_sliced_wasserstein(amp_u, amp_v, projections_amp, **shared), reduction)
    amplitude, phase = frequency_distribution_terms(
        fu, fv, projections_amp, projections_phase, stride, chunk_size, small_maps, phase_eps, fft_norm
    )
    return reduce(amplitude + phase_weight * phase, reduction)
