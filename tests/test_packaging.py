"""The built wheel carries the presets: a non-editable install finds the same presets as a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


@pytest.mark.skipif(not _setuptools_ok(), reason="needs setuptools >= 77 to build without isolation")
def test_wheel_ships_every_preset_and_they_load(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("clinitui-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        shipped = sorted(n.removeprefix("clinitui/presets/") for n in zf.namelist()
                         if n.startswith("clinitui/presets/") and n.endswith(".toml"))
        assert "clinitui/report/template.html.j2" in zf.namelist()  # clinitui report's layout
        assert "clinitui/cli/templates/console_page.html.j2" in zf.namelist()  # clinitui serve's page
        zf.extractall(tmp_path / "site")
    expected = sorted(str(p.relative_to(ROOT / "presets")) for p in (ROOT / "presets").rglob("*.toml"))
    assert shipped == expected and len(expected) > 20

    # The installed copy (not the checkout) is where the presets are found, and they validate.
    code = ("import clinitui, clinitui.config.presets as p; "
            "print(clinitui.__file__); print(p.packaged_dir()); "
            "c = p.catalogue(); [p.load_file(path, k, o) for (k, n), (path, o) in c.items()]; print(len(c))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin",
                              "XDG_CONFIG_HOME": str(tmp_path / "xdg")}, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    module, folder, count = run.stdout.split()
    assert module.startswith(str(tmp_path / "site"))
    assert folder == str(tmp_path / "site" / "clinitui" / "presets")
    assert int(count) == len(expected)
