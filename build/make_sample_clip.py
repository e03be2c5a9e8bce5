"""Rebuild web/samples/sample-clip.webm, the demo video for the web page.

The clip gives object and face detection something to find: a slow zoom
onto the astronaut (a person with a face), then a pan over the coffee cup,
then over Chelsea the cat -- 7 s, 640x480, 15 fps, VP9 in WebM.  The photos
are the scikit-image ones in web/samples (see LICENSE.md there).

Frames are drawn with Pillow (a moving crop, resized to 640x480) and piped
as raw RGB into ffmpeg (Debian: `apt-get install ffmpeg`).  Converting to
YUV is done explicitly as BT.601 limited range and tagged as such, so
browsers decode the colours as they were drawn.  Single-threaded encoding
and the bitexact flags make the output byte-for-byte repeatable for a given
ffmpeg/libvpx and Pillow; the sha256 is printed to compare.

Usage: python build/make_sample_clip.py [output.webm]
"""

import hashlib
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "web" / "samples"
OUTPUT = ROOT / "web" / "samples" / "sample-clip.webm"
SIZE = (640, 480)
FPS = 15

# (photo, seconds, crop box at start, crop box at end); boxes are
# (left, top, right, bottom) in photo pixels, all 4:3 like the output.
SHOTS = [
    ("astronaut.png", 3, (0, 0, 512, 384), (96, 24, 416, 264)),    # 512x512
    ("coffee.png", 2, (0, 0, 533, 400), (67, 0, 600, 400)),        # 600x400
    ("chelsea.png", 2, (51, 0, 451, 300), (0, 12, 384, 300)),      # 451x300
]


def ease(t):
    """Smoothstep, so each move starts and stops gently."""
    return t * t * (3 - 2 * t)


def frames():
    """Yield every frame of the clip as raw RGB bytes."""
    for name, seconds, start, end in SHOTS:
        photo = Image.open(PHOTOS / name).convert("RGB")
        count = seconds * FPS
        for i in range(count):
            t = ease(i / (count - 1))
            box = tuple(a + (b - a) * t for a, b in zip(start, end))
            yield photo.resize(SIZE, Image.Resampling.BICUBIC, box=box).tobytes()


def main():
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [
        "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{SIZE[0]}x{SIZE[1]}", "-framerate", str(FPS), "-i", "-",
        "-vf", "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p",
        "-colorspace", "smpte170m", "-color_range", "tv",
        "-c:v", "libvpx-vp9", "-crf", "30", "-b:v", "0",
        "-deadline", "good", "-cpu-used", "2", "-threads", "1", "-g", "30",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact",
        str(output),
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE) as ffmpeg:
        for frame in frames():
            ffmpeg.stdin.write(frame)
        ffmpeg.stdin.close()
    if ffmpeg.returncode:
        sys.exit(f"ffmpeg failed with exit status {ffmpeg.returncode}")
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    print(f"{output}: {output.stat().st_size} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
