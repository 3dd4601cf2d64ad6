"""The ``builtin`` photo set: photos shipped inside installed wheels, available offline.

The files are located without importing their packages (scikit-image, scikit-learn and
matplotlib are slow to import and not needed to read a PNG).
"""

from __future__ import annotations

from pathlib import Path

from pdloss._hub import package_dir
from pdloss.errors import ImageReadError

# name -> (package, path inside the package). Colour photos only: the losses and metrics are RGB.
BUILTIN_PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "motorcycle_right": ("skimage", "data/motorcycle_right.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def builtin_photos() -> dict[str, Path]:
    """The built-in photos present in this environment, name -> file."""
    found = {}
    for name, (package, relative) in BUILTIN_PHOTOS.items():
        root = package_dir(package)
        if root is not None and (root / relative).is_file():
            found[name] = root / relative
    return found


def builtin_photo_path(name: str) -> Path:
    """The file of one built-in photo; a clear error if it is unknown or its package is absent."""
    if name not in BUILTIN_PHOTOS:
        raise ImageReadError(f"unknown built-in photo {name!r}; known: {', '.join(sorted(BUILTIN_PHOTOS))}")
    package, relative = BUILTIN_PHOTOS[name]
    root = package_dir(package)
    if root is None or not (root / relative).is_file():
        pip_name = {"skimage": "scikit-image", "sklearn": "scikit-learn"}.get(package, package)
        raise ImageReadError(
            f"built-in photo {name!r} is a file of the package {pip_name!r}, which is not installed: "
            "pip install 'pdloss[data]' (scikit-image, scikit-learn and matplotlib carry the built-in photos)"
        )
    return root / relative


def resolve_image_path(path: str | Path) -> Path:
    """Turn ``builtin:NAME`` into the file of that built-in photo; other paths pass through."""
    text = str(path)
    if text.startswith("builtin:"):
        return builtin_photo_path(text.split(":", 1)[1])
    return Path(path)
