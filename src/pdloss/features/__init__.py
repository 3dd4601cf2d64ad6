"""Deep features: VGG16/VGG19 in torchvision's layout, preprocessing, shared extractors."""

from pdloss.features.extractor import FeatureExtractor, clear_shared_extractors, get_extractor
from pdloss.features.preprocessing import Preprocess
from pdloss.features.vgg import VGG, layer_channels, layer_index, layer_names, layer_stride

__all__ = [
    "VGG",
    "FeatureExtractor",
    "Preprocess",
    "clear_shared_extractors",
    "get_extractor",
    "layer_channels",
    "layer_index",
    "layer_names",
    "layer_stride",
]
