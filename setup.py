"""Ship the repository's top-level ``presets/`` inside the package as ``clinitui/presets``.

The presets live at the repository root (where users and reviewers look for them); a wheel must
still carry them, so the build copies the folder into the built package. Editable installs read
the checkout's folder directly (``clinitui.config.presets.packaged_dir``).
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class build_py_with_presets(build_py):  # noqa: N801 - setuptools command naming
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        source = ROOT / "presets"
        target = Path(self.build_lib) / "clinitui" / "presets"
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        source = ROOT / "presets"
        if source.is_dir() and not self.editable_mode:
            base = Path(self.build_lib) / "clinitui" / "presets"
            outputs += [str(base / p.relative_to(source)) for p in source.rglob("*.toml")]
        return outputs


setup(cmdclass={"build_py": build_py_with_presets})
