"""Build hook: the wheel carries the repository's ``configs/`` as ``pdloss/presets/``.

``configs/`` stays the one copy of the presets (an editable install reads it in place, see
``pdloss.train.presets``); everything else about the package is declared in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIGS = Path(__file__).resolve().parent / "configs"


class BuildWithPresets(build_py):
    """``build_py`` plus a copy of ``configs/*.yaml`` into ``<build>/pdloss/presets/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads configs/ itself
            return
        target = Path(self.build_lib) / "pdloss" / "presets"
        self.mkpath(str(target))
        for config in sorted(CONFIGS.glob("*.yaml")):
            self.copy_file(str(config), str(target / config.name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        # Listed so that `install --record` and the wheel's RECORD know the copied files.
        target = Path(self.build_lib) / "pdloss" / "presets"
        return [*super().get_outputs(include_bytecode), *(str(target / c.name) for c in sorted(CONFIGS.glob("*.yaml")))]


setup(cmdclass={"build_py": BuildWithPresets})
