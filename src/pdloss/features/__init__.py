"""Deep features: VGG16/VGG19 in torchvision's layout, preprocessing, shared extractors."""

from pdloss._deprecation import module_getattr
from pdloss.features.extractor import FeatureExtractor, build_extractor, clear_shared_extractors
from pdloss.features.preprocessing import Preprocess
from pdloss.features.vgg import VGG, layer_channels, layer_index, layer_names, layer_stride

__all__ = [
    "VGG",
    "FeatureExtractor",
    "Preprocess",
    "build_extractor",
    "clear_shared_extractors",
    "layer_channels",
    "layer_index",
    "layer_names",
    "layer_stride",
]

# Old name, for one release: warns once.
__getattr__ = module_getattr(__name__, {"get_extractor": ("pdloss.features.build_extractor", lambda: build_extractor)})
