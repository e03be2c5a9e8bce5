"""Write the label files for the bundled models to models/labels/.

- imagenet1k.txt: the 1000 ImageNet-1k class names in index order (for
  EfficientNet-Lite0), from npm @tensorflow-models/mobilenet@2.1.1,
  dist/imagenet_classes.js (Apache-2.0). Each line is the full name string,
  synonyms included ("tench, Tinca tinca").
- coco80.txt: the 80 COCO detection classes in the usual contiguous order
  (for NanoDet).
- face.txt: the single BlazeFace class.

Run with any Python 3:

    python build/models/fetch_labels.py [--source-dir DIR] [--output FOLDER]
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from recipe_common import MODELS_DIR, fetch_npm, recipe_args, sha256_file

MOBILENET = (
    "@tensorflow-models/mobilenet@2.1.1",
    "tensorflow-models-mobilenet-2.1.1.tgz",
    "29b97f8db758d1d699c5654100fd363beaaeda1874e1488b5bceb267d13f90ff",
)
IMAGENET_MEMBER = "package/dist/imagenet_classes.js"

COCO80 = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]  # fmt: skip

# One entry of the JS object literal: `12: 'house finch, linnet, ...',`
JS_ENTRY = re.compile(r"(\d+):\s*'((?:[^'\\]|\\.)*)'")


def parse_imagenet_classes(source: str) -> list[str]:
    """Read the {index: 'name'} object literal of imagenet_classes.js."""
    body = source[source.index("exports.IMAGENET_CLASSES = {") : source.rindex("};")]
    # Long names are split over lines as 'first part ' +\n 'second part'.
    body = re.sub(r"'\s*\+\s*'", "", body)
    names = {int(index): re.sub(r"\\(.)", r"\1", text) for index, text in JS_ENTRY.findall(body)}
    if sorted(names) != list(range(1000)):
        raise ValueError(f"expected indices 0..999, found {len(names)} entries")
    return [names[i] for i in range(1000)]


def write_labels(folder: Path, name: str, labels: list[str]) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    print(f"wrote {path} ({len(labels)} labels), sha256 {sha256_file(path)}")


def main() -> None:
    args = recipe_args(__doc__.splitlines()[0], MODELS_DIR / "labels")

    tarball = fetch_npm(*MOBILENET, args.source_dir)
    with tarfile.open(tarball) as archive:
        source = archive.extractfile(IMAGENET_MEMBER).read().decode("utf-8")
    write_labels(args.output, "imagenet1k.txt", parse_imagenet_classes(source))

    assert len(COCO80) == 80
    write_labels(args.output, "coco80.txt", COCO80)
    write_labels(args.output, "face.txt", ["face"])


if __name__ == "__main__":
    main()
