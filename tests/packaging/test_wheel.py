"""The wheel ships the stylesheets, and an installed readmark (not the checkout) finds them.
Its metadata offers the ``demo`` extra and bounds Textual's major version."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("readmark-*.whl")
    return wheel


def test_wheel_contains_styles_and_installed_copy_finds_them(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("app/styles/") and n.endswith(".tcss")}
    expected = {p.name for p in (ROOT / "styles").glob("*.tcss")}
    assert expected and shipped == expected
    assert "app/cli.py" in names and not any(n.startswith("tests/") for n in names)

    (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(zipfile.ZipFile(wheel).read(metadata_name).decode("utf-8"))
    requires = [r.replace(" ", "") for r in metadata.get_all("Requires-Dist")]
    # An installed readmark gets `readmark demo`'s homeserver from this extra (the message
    # the demo prints without Synapse names it).
    assert "demo" in metadata.get_all("Provides-Extra")
    assert any(r.startswith("matrix-synapse>=") and r.endswith("extra=='demo'") for r in requires)
    # A new Textual major is a decision, taken with the snapshot and Pilot suites.
    (textual,) = [r for r in requires if r.startswith("textual") and ";" not in r]
    assert set(textual.removeprefix("textual").split(",")) == {">=8.2", "<9"}

    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # Run from elsewhere with only the installed copy (plus the dependencies) importable.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])}
    out = subprocess.run(
        [sys.executable, "-S", "-c", "import app, app.paths as p; print(app.__file__); print(p.styles_dir())"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[0].startswith(str(target)) and out[1] == str(target / "app" / "styles")
