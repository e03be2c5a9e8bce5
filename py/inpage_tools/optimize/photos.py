"""The photos ``inpage optimize`` calibrates int8 models on and checks variants against: ``photos.json``
in a folder, each photo used whole, mirrored and in a few crops (:data:`VIEWS`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from inpage.errors import InvalidArgumentError
from inpage.image import to_rgb

from .. import resources

PHOTOS_INDEX = "photos.json"
# (name, crop box as fractions of the photo, mirrored). Crops zoom in, as a camera close to its
# subject does; the last one is tight enough to give a face most of a small detector's input.
VIEWS: tuple[tuple[str, tuple[float, float, float, float] | None, bool], ...] = (
    ("whole", None, False),
    ("mirrored", None, True),
    ("centre", (0.15, 0.15, 0.85, 0.85), False),
    ("top", (0.25, 0.0, 0.75, 0.5), False),
    ("close-up", (0.3, 0.1, 0.6, 0.4), False),
)

# ---- photos ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    name: str  # "chelsea.png/mirrored"
    image: Image.Image


@dataclass(frozen=True)
class Photos:
    """The calibration and held-out photos, each as its :data:`VIEWS`, in ``photos.json`` order."""

    folder: Path
    calibration_files: tuple[str, ...]
    held_out_files: tuple[str, ...]
    calibration: tuple[View, ...]
    held_out: tuple[View, ...]
    sha256: str  # of photos.json and every photo, in order: which photos a report used

    def describe(self) -> dict:
        bundled = self.folder.resolve() == default_photos_dir().resolve()
        return {
            "folder": "inpage's bundled photos (models/photos)" if bundled else str(self.folder),
            "sha256": self.sha256,
            "calibration": list(self.calibration_files),
            "held_out": list(self.held_out_files),
            "views": [name for name, _box, _mirror in VIEWS],
        }


def default_photos_dir() -> Path:
    return resources.demo_models_dir() / "photos"


def load_photos(folder: Path | None = None) -> Photos:
    """The photos ``folder/photos.json`` lists (default: the bundled ones), decoded as inference decodes them."""
    folder = Path(folder) if folder is not None else default_photos_dir()
    index_path = folder / PHOTOS_INDEX
    if not index_path.is_file():
        raise InvalidArgumentError(f"{folder} has no {PHOTOS_INDEX}; it lists the calibration and held_out photos")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{index_path} is not valid JSON: {exc}") from None
    sets = {}
    for key in ("calibration", "held_out"):
        files = index.get(key) if isinstance(index, dict) else None
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise InvalidArgumentError(f"{index_path}: {key!r} must be a non-empty list of photo file names")
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise InvalidArgumentError(f"{index_path}: {key} lists {', '.join(missing)}, not in {folder}")
        sets[key] = tuple(files)
    shared = sorted(set(sets["calibration"]) & set(sets["held_out"]))
    if shared:
        # A held-out photo the quantiser has seen would flatter the report.
        raise InvalidArgumentError(f"{index_path}: {', '.join(shared)} is both a calibration and a held-out photo")
    digest = hashlib.sha256(index_path.read_bytes())
    views = {}
    for key, files in sets.items():
        views[key] = []
        for file in files:
            data = (folder / file).read_bytes()
            digest.update(hashlib.sha256(data).digest())
            views[key].extend(_views(file, to_rgb(data)))
    return Photos(folder, sets["calibration"], sets["held_out"], tuple(views["calibration"]), tuple(views["held_out"]), digest.hexdigest())


def _views(file: str, image: Image.Image) -> list[View]:
    views = []
    width, height = image.size
    for name, box, mirrored in VIEWS:
        view = image
        if box is not None:
            left, top, right, bottom = box
            view = image.crop((round(left * width), round(top * height), round(right * width), round(bottom * height)))
        if mirrored:
            view = ImageOps.mirror(view)
        views.append(View(f"{file}/{name}", view))
    return views


def view_names(views) -> list[str]:
    """The views' names ("chelsea.png/mirrored"), as a task's judge reports them."""
    return [view.name for view in views]
