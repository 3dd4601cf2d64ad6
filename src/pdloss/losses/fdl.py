"""The Frequency Distribution Loss (FDL; Ni et al., CVPR 2024), a baseline beside the PDL."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pdloss.errors import InputError
from pdloss.features import layer_stride
from pdloss.functional.frequency import FFT_NORMS, SMALL_MAPS, frequency_distribution_distance, make_patch_projections
from pdloss.losses.base import FeatureLoss
from pdloss.validation import check_same_shape

# The five VGG19 stages of the published FDL end at these layers (torchvision indices 3, 8, 17, 26, 35).
FDL_LAYERS_VGG19 = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")
# The same stage ends in VGG16 (for backbone="vgg16"; not a published configuration).
FDL_LAYERS_VGG16 = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")


class FrequencyDistributionLoss(FeatureLoss):
    """``pixel_weight * ||u - v||_q + weight * sum_l layer_weight_l * FDD(phi_l(u), phi_l(v))``.

    FDD is :func:`pdloss.frequency.frequency_distribution_distance`: per image, the patch
    sliced-Wasserstein distance between the DFT amplitudes of the two feature maps plus
    ``phase_weight`` times that between their phases. Defaults are the published FDL's: VGG19
    stages ending at relu1_2, relu2_2, relu3_4, relu4_4, relu5_4, 256 projections of 5x5 patches,
    stride 1, phase weight 1, no pixel term (``pixel_weight=0``).

    Besides the arguments of :class:`~pdloss.losses.base.FeatureLoss` (``backbone`` defaults to
    ``"vgg19"``, ``weights`` to its default ``"vgg19-imagenet"``, ``layers`` to the five stages):

    Args:
        weight: lambda of the FDL term (its scale grows with the feature maps' size under the
            unscaled DFT: see ``fft_norm``).
        num_proj: K, random kernels per layer.
        patch_size: p, the kernels' side.
        stride: stride of the patch grid.
        phase_weight: weight of the phase term.
        seed: seed of the projections (the published code draws them unseeded).
        resample: draw new projections at every call (else fixed, held in buffers).
        separate_phase_projections: draw separate kernels for the phase (the published code shares them).
        chunk_size: projections per chunk (memory bound), ``"auto"`` or None (all at once).
        small_maps: ``"error"`` (default) where a layer's map is smaller than the patch, or
            ``"shrink"`` (the patch shrinks to the map there).
        phase_eps: phases of DFT coefficients below ``phase_eps`` times the map's largest are 0,
            with a zero gradient (finite gradients where amplitudes vanish).
        fft_norm: ``"backward"`` (unscaled DFT, as published), ``"ortho"`` or ``"forward"``.

    The projections are buffers but not saved in the state dict (about 38 MB at the defaults): they
    follow from ``seed`` (fixed) or from ``_generator``'s state (resampled), which is in the state
    dict (``_extra_state``), so a reloaded loss draws the kernels the saved one would have drawn.

    Example::

        loss_fn = FrequencyDistributionLoss(weights="vgg19-imagenet")
        loss = loss_fn(model(degraded), clean)   # images (B, 3, H, W) in [0, 1], H, W >= 80
    """

    def __init__(
        self,
        weight: float = 1.0,
        *,
        pixel_weight: float = 0.0,
        backbone: str = "vgg19",
        layers: Sequence[str] | str | None = None,
        num_proj: int = 256,
        patch_size: int = 5,
        stride: int = 1,
        phase_weight: float = 1.0,
        seed: int = 0,
        resample: bool = False,
        separate_phase_projections: bool = False,
        chunk_size: int | str | None = "auto",
        small_maps: str = "error",
        phase_eps: float = 1e-6,
        fft_norm: str = "backward",
        **kwargs,
    ) -> None:
        if layers is None:
            layers = FDL_LAYERS_VGG16 if backbone == "vgg16" else FDL_LAYERS_VGG19
        super().__init__(weight=weight, pixel_weight=pixel_weight, backbone=backbone, layers=layers, **kwargs)
        for name, value in (("num_proj", num_proj), ("patch_size", patch_size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(phase_weight, bool) or not isinstance(phase_weight, (int, float)) or not phase_weight >= 0:
            raise InputError(f"phase_weight must be a non-negative number, got {phase_weight!r}")
        if chunk_size not in ("auto", None) and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        ):
            raise InputError(f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}")
        if small_maps not in SMALL_MAPS:
            raise InputError(f"small_maps must be one of {SMALL_MAPS}, got {small_maps!r}")
        if fft_norm not in FFT_NORMS:
            raise InputError(f"fft_norm must be one of {FFT_NORMS}, got {fft_norm!r}")
        if not isinstance(phase_eps, (int, float)) or isinstance(phase_eps, bool) or not 0 <= phase_eps < 1:
            raise InputError(f"phase_eps must be a number in [0, 1), got {phase_eps!r}")
        self.num_proj, self.patch_size, self.stride = num_proj, patch_size, stride
        self.phase_weight = float(phase_weight)
        self.seed, self.resample = seed, resample
        self.separate_phase_projections = separate_phase_projections
        self.chunk_size, self.small_maps = chunk_size, small_maps
        self.phase_eps, self.fft_norm = float(phase_eps), fft_norm
        self._generator = torch.Generator().manual_seed(seed)
        self._buffer_names: dict[str, tuple[str, str | None]] = {}
        for layer in self.layers:
            amp_name = f"projection_{layer}"
            phase_name = f"projection_phase_{layer}" if separate_phase_projections else None
            self._buffer_names[layer] = (amp_name, phase_name)
            # Not persistent: a function of the seed / generator state (see the class docstring).
            self.register_buffer(amp_name, self._draw(layer), persistent=False)
            if phase_name is not None:
                self.register_buffer(phase_name, self._draw(layer), persistent=False)

    def _draw(self, layer: str) -> torch.Tensor:
        return make_patch_projections(self.num_proj, self.channels[layer], self.patch_size, self._generator)

    def projections(self, layer: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The amplitude kernels ``(K, C, p, p)`` of ``layer`` and the phase kernels (None: shared)."""
        amp_name, phase_name = self._buffer_names[layer]
        return getattr(self, amp_name), (getattr(self, phase_name) if phase_name else None)

    def before_forward(self) -> None:
        if self.resample:
            for layer in self.layers:
                for name in self._buffer_names[layer]:
                    if name is not None:
                        current = getattr(self, name)
                        current.copy_(self._draw(layer).to(device=current.device, dtype=current.dtype))

    def check_inputs(self, prediction: torch.Tensor, target: torch.Tensor, *args, **kwargs) -> None:
        super().check_inputs(prediction, target, *args, **kwargs)
        # Sorted projections are compared value by value: both maps need the same positions.
        check_same_shape(prediction, target)
        if self.small_maps == "error" and self.weight > 0:
            height, width = prediction.shape[-2:]
            for layer in self.layers:
                step = layer_stride(self.backbone, layer)
                if height // step < self.patch_size or width // step < self.patch_size:
                    raise InputError(
                        f"FDL at {layer} (stride {step}) turns {height}x{width} images into "
                        f"{height // step}x{width // step} maps, smaller than the {self.patch_size}x{self.patch_size} "
                        f"patch; use images of at least {step * self.patch_size} px, shallower layers, a smaller "
                        "patch_size, or small_maps='shrink'"
                    )

    def feature_distance(self, fu: torch.Tensor, fv: torch.Tensor, layer: str) -> torch.Tensor:
        amp, phase = self.projections(layer)
        return frequency_distribution_distance(
            fu,
            fv,
            amp,
            phase,
            stride=self.stride,
            phase_weight=self.phase_weight,
            reduction="none",
            chunk_size=self.chunk_size,
            small_maps=self.small_maps,
            phase_eps=self.phase_eps,
            fft_norm=self.fft_norm,
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, num_proj={self.num_proj}, patch_size={self.patch_size}, stride={self.stride}, "
            f"phase_weight={self.phase_weight}, resample={self.resample}, "
            f"separate_phase_projections={self.separate_phase_projections}, chunk_size={self.chunk_size!r}, "
            f"small_maps={self.small_maps!r}, fft_norm={self.fft_norm!r}"
        )
