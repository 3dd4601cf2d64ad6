"""Frechet Inception Distance (Heusel et al. 2017), computed as pytorch-fid computes it.

Pipeline: RGB in [0, 1] -> bilinear resize to 299x299 (``align_corners=False``) -> ``2x - 1``
-> the TF 2015-12-05 Inception's 2048-d pool3 features -> mean and covariance (accumulated in
float64 chunk by chunk) -> ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})``.

FID is a set metric: it compares two distributions, never a single pair. Its estimate is biased
upwards for few samples (the covariance of 2048-d features needs thousands of images); the
patch mode cuts each image into non-overlapping tiles to get more samples from small evaluation
sets. Patch FID is a different number from image FID: compare it only with patch FID computed
with the same patch size.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.imageio import list_images, read_image
from pdloss.metrics import fid_weights, inception  # through the modules: tests replace their functions there
from pdloss.validation import check_image_batch

INPUT_SIZE = 299


def inception_input(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB in [0, 1] -> the network's input ``(B, 3, 299, 299)`` in [-1, 1]."""
    check_image_batch(x, "FID input", value_range=(0.0, 1.0), channels=3)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1


def extract_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Non-overlapping ``patch_size`` tiles of ``(B, C, H, W)`` -> ``(B * n, C, p, p)``.

    Tiles start at the top-left corner; a remainder narrower than a tile is dropped.
    """
    if patch_size < 16:
        raise InputError(f"patch_size must be at least 16, got {patch_size}")
    if min(x.shape[-2:]) < patch_size:
        raise InputError(f"images of {x.shape[-2]}x{x.shape[-1]} are smaller than patch_size {patch_size}")
    c = x.shape[1]
    tiles = x.unfold(2, patch_size, patch_size).unfold(3, patch_size, patch_size)  # B C nh nw p p
    return tiles.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, patch_size, patch_size)


class FeatureStatistics:
    """Running mean and covariance of feature rows, accumulated in float64 chunks.

    While there are no more rows than dimensions the rows are also kept, so that
    :func:`fid_from_statistics` can use the exact low-rank formula instead of a 2048x2048
    eigendecomposition.
    """

    def __init__(self, dim: int = 2048) -> None:
        self.dim = dim
        self.count = 0
        self._sum = np.zeros(dim, dtype=np.float64)
        self._outer = np.zeros((dim, dim), dtype=np.float64)
        self._rows: list[np.ndarray] | None = []

    def update(self, features: np.ndarray | torch.Tensor) -> None:
        f = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else features
        f = np.asarray(f, dtype=np.float64).reshape(-1, self.dim)
        self.count += f.shape[0]
        self._sum += f.sum(axis=0)
        self._outer += f.T @ f
        if self._rows is not None:
            self._rows.append(f)
            if self.count > self.dim:
                self._rows = None

    def rows(self) -> np.ndarray | None:
        """All rows ``(N, dim)`` while N <= dim, else None."""
        return None if self._rows is None else np.concatenate(self._rows)

    def mean(self) -> np.ndarray:
        if self.count == 0:
            raise InputError("no features were accumulated")
        return self._sum / self.count

    def covariance(self) -> np.ndarray:
        """Unbiased (``N - 1``) covariance, as ``np.cov(features, rowvar=False)``."""
        if self.count < 2:
            raise InputError(f"FID needs at least 2 samples per set, got {self.count}")
        mu = self.mean()
        return (self._outer - self.count * np.outer(mu, mu)) / (self.count - 1)


def sqrtm_trace(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr((S1 S2)^{1/2})`` for symmetric positive semi-definite S1, S2.

    S1 S2 is similar to the symmetric ``S1^{1/2} S2 S1^{1/2}``, whose eigenvalues are real and
    non-negative, so the trace is the sum of their square roots; tiny negative round-off is
    clipped to 0. This avoids scipy.linalg.sqrtm's complex results and non-convergence on the
    singular covariances of small sets.
    """
    evals, evecs = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root = (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T
    middle = root @ sigma2 @ root
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise InputError(f"mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * sqrtm_trace(sigma1, sigma2)
    return float(max(value, 0.0))


def frechet_distance_low_rank(f1: np.ndarray, f2: np.ndarray) -> float:
    """Frechet distance of the Gaussians fitted to two small feature sets ``(N1, D)``, ``(N2, D)``.

    With centred rows A1, A2 and c = (N1 - 1)(N2 - 1), S1 S2 = A1^T A1 A2^T A2 / c shares its
    non-zero eigenvalues with M M^T / c for M = A1 A2^T, so Tr((S1 S2)^{1/2}) is the nuclear norm
    of M over sqrt(c): exact, and an (N1 x N2) problem instead of a (D x D) one.
    """
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(len(f1), len(f2)) < 2:
        raise InputError(f"need two feature sets (N >= 2, same width), got {f1.shape} and {f2.shape}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    a1, a2 = f1 - mu1, f2 - mu2
    n1, n2 = len(f1) - 1, len(f2) - 1
    trace_root = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    diff = mu1 - mu2
    value = diff @ diff + (a1 * a1).sum() / n1 + (a2 * a2).sum() / n2 - 2 * trace_root
    return float(max(value, 0.0))


def frechet_distance_rows_to_gaussian(f1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between the Gaussian fitted to a small set ``(N1, D)`` and N(mu2, sigma2).

    S1 S2 = A1^T A1 S2 / (N1 - 1) shares its non-zero eigenvalues with the symmetric
    ``A1 S2 A1^T / (N1 - 1)`` (N1 x N1), so only that small matrix is decomposed.
    """
    f1 = np.asarray(f1, np.float64)
    mu2, sigma2 = np.asarray(mu2, np.float64), np.asarray(sigma2, np.float64)
    if f1.ndim != 2 or len(f1) < 2 or sigma2.shape != (f1.shape[1], f1.shape[1]) or mu2.shape != (f1.shape[1],):
        raise InputError(f"mismatched shapes: features {f1.shape}, mu {mu2.shape}, sigma {sigma2.shape}")
    mu1 = f1.mean(0)
    a1 = f1 - mu1
    n1 = len(f1) - 1
    small = a1 @ sigma2 @ a1.T / n1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((small + small.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + (a1 * a1).sum() / n1 + np.trace(sigma2) - 2 * trace_root
    return float(max(value, 0.0))


def fid_from_statistics(s1: FeatureStatistics, s2: FeatureStatistics | tuple[np.ndarray, np.ndarray]) -> float:
    """FID of an accumulated set against another set or against ``(mu, sigma)``.

    Uses the exact small-matrix formulas when a set kept its rows (N <= 2048), the 2048x2048
    eigendecomposition otherwise; all agree to round-off.
    """
    r1 = s1.rows()
    if isinstance(s2, FeatureStatistics):
        r2 = s2.rows()
        if r1 is not None and r2 is not None:
            return frechet_distance_low_rank(r1, r2)
        if r2 is not None:
            return frechet_distance_rows_to_gaussian(r2, s1.mean(), s1.covariance())
        mu2, sigma2 = s2.mean(), s2.covariance()
    else:
        mu2, sigma2 = s2
    if r1 is not None:
        return frechet_distance_rows_to_gaussian(r1, mu2, sigma2)
    return frechet_distance(s1.mean(), s1.covariance(), mu2, sigma2)


def fid_from_features(f1: np.ndarray | torch.Tensor, f2: np.ndarray | torch.Tensor) -> float:
    """FID between two sets of feature rows ``(N1, D)``, ``(N2, D)`` (N >= 2 each).

    The same statistics and formulas as :func:`pdloss.metrics.evaluate` uses, so the value equals
    what ``evaluate`` reports for the features it extracted.
    """
    f1 = f1.detach().cpu().numpy() if isinstance(f1, torch.Tensor) else np.asarray(f1)
    f2 = f2.detach().cpu().numpy() if isinstance(f2, torch.Tensor) else np.asarray(f2)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(len(f1), len(f2)) < 2:
        raise InputError(f"FID needs two feature sets (N >= 2, same width), got {f1.shape} and {f2.shape}")
    if len(f1) <= f1.shape[1] and len(f2) <= f2.shape[1]:
        # What fid_from_statistics does with kept rows, without first accumulating the D x D
        # outer products (a bootstrap calls this thousands of times).
        return frechet_distance_low_rank(f1.astype(np.float64), f2.astype(np.float64))
    s1, s2 = FeatureStatistics(f1.shape[1]), FeatureStatistics(f2.shape[1])
    s1.update(f1)
    s2.update(f2)
    return fid_from_statistics(s1, s2)


def save_statistics(
    path: str | os.PathLike,
    mu: np.ndarray,
    sigma: np.ndarray,
    *,
    features: np.ndarray | None = None,
    image: np.ndarray | None = None,
    stems: list[str] | None = None,
    **meta: object,
) -> Path:
    """Store statistics as pytorch-fid's ``.npz`` (keys ``mu``, ``sigma``) plus metadata strings.

    Optionally also the feature rows themselves (``features`` ``(N, 2048)`` float32, ``image``
    ``(N,)`` int64 index into ``stems``), which KID and the per-image bootstraps need; pytorch-fid
    reads such a file as usual (it looks only at ``mu`` and ``sigma``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    arrays: dict[str, np.ndarray] = {"mu": mu, "sigma": sigma}
    if features is not None:
        if image is None or stems is None or len(image) != len(features):
            raise InputError("cached features need their image indices and the image stems")
        arrays.update(
            features=np.asarray(features, np.float32),
            image=np.asarray(image, np.int64),
            stems=np.array(list(stems), dtype=str),
        )
    np.savez(tmp, **arrays, **{f"meta_{k}": np.array(str(v)) for k, v in meta.items()})
    os.replace(tmp, path)
    return path


def load_statistics(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Read an ``.npz`` with ``mu`` and ``sigma`` (pytorch-fid's files work) and its metadata."""
    try:
        with np.load(path) as data:
            mu, sigma = data["mu"], data["sigma"]
            meta = {k[5:]: str(data[k]) for k in data.files if k.startswith("meta_")}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read FID statistics {path}: {exc} (expected an .npz with mu and sigma)") from exc
    return mu, sigma, meta


def load_reference_features(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """``(features (N, 2048) float32, image (N,) int64, stems)`` cached beside the statistics, or None
    for a file that holds only ``mu`` and ``sigma`` (pytorch-fid's, or one written for FID alone)."""
    try:
        with np.load(path) as data:
            if "features" not in data.files:
                return None
            return data["features"], data["image"].astype(np.int64), [str(s) for s in data["stems"]]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read the cached features of {path}: {exc}") from exc


class InceptionFeatures:
    """The FID Inception with its preprocessing and patch tiling: images -> 2048-d pool3 rows.

    FID and KID both measure on these rows; this class is their one feature extractor.

    Args:
        weights: None for the installed weights, or a file (see
            :func:`pdloss.metrics.fid_weights.load_fid_weights`).
        device: where the network runs.
        batch_size: images per forward pass.
        patch_size: None for whole images, or the tile size of the patch mode.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        patch_size: int | None = None,
    ) -> None:
        loaded = fid_weights.load_fid_weights(weights)
        self.weights_label = loaded.label
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.patch_size = patch_size
        self.net = inception.FIDInceptionV3()
        self.net.load_fid_state_dict(loaded.state_dict, loaded.label)
        self.net.to(self.device)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(N, 2048)`` float32 (N = B, or B * tiles in patch mode).

        In patch mode the rows of image b are ``b * tiles ... (b + 1) * tiles - 1`` (row-major tiles).
        """
        check_image_batch(images, "FID input", value_range=(0.0, 1.0), channels=3)
        if self.patch_size is not None:
            images = extract_patches(images, self.patch_size)
        chunks = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = images[start : start + self.batch_size].to(self.device, torch.float32)
            chunks.append(self.net(inception_input(batch)).cpu())
        return torch.cat(chunks)

    def folder_features(
        self, folder: str | os.PathLike, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every image of a folder (sorted by stem) -> ``(features (N, 2048) float32, image (N,)
        int64 index into stems, stems)``; images may differ in size."""
        from tqdm import tqdm

        paths = sorted(list_images(folder), key=lambda p: p.stem)
        if not paths:
            raise InputError(f"no image files in {folder}")
        rows, index = [], []
        for i, path in enumerate(tqdm(paths, desc="Inception features", disable=not progress, file=sys.stderr)):
            f = self.features(read_image(path, "RGB")[None]).numpy()
            rows.append(f)
            index.append(np.full(len(f), i, dtype=np.int64))
        return np.concatenate(rows), np.concatenate(index), [p.stem for p in paths]


class FID(InceptionFeatures):
    """FID calculator holding the Inception network (arguments: see :class:`InceptionFeatures`)."""

    higher_is_better = False

    def statistics(
        self, images: Iterable[torch.Tensor], progress: bool = False, total: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance over an iterable of batches (or single ``(3, H, W)`` images)."""
        from tqdm import tqdm

        stats = FeatureStatistics()
        for item in tqdm(images, total=total, desc="FID features", disable=not progress, file=sys.stderr):
            batch = item.unsqueeze(0) if item.ndim == 3 else item
            stats.update(self.features(batch))
        return stats.mean(), stats.covariance()

    def __call__(self, set1: torch.Tensor, set2: torch.Tensor) -> float:
        """FID between two batches ``(N, 3, H, W)`` in [0, 1] (sizes may differ)."""
        s1, s2 = FeatureStatistics(), FeatureStatistics()
        s1.update(self.features(set1))
        s2.update(self.features(set2))
        return fid_from_statistics(s1, s2)
