"""Write YUV4MPEG2 (.y4m) clips for Chromium's fake webcam.

Browser tests start Chromium with

    --use-fake-device-for-media-stream --use-fake-ui-for-media-stream
    --use-file-for-fake-video-capture=clip.y4m

so that getUserMedia() returns a camera that plays ``clip.y4m`` in a loop.
Chromium's reader (media/capture/video/file_video_capture_device.cc) is
strict and small, which dictates the format written here:

* Only 4:2:0 planar (I420) is accepted.  The ``C`` tag must be ``420``,
  ``420jpeg``, ``420mpeg2`` or ``420paldv``; anything else (``C444``...)
  hits a CHECK and crashes the capture process.  We write ``C420jpeg``: it is
  the YUV4MPEG2 default (what an absent ``C`` tag means) and its chroma
  siting -- centred between the 2x2 luma samples -- is exactly what
  averaging each 2x2 block produces.  Chromium ignores the variant anyway.
* ``F`` is parsed as integer numerator / denominator, so use integer fps.
* Every frame must start with exactly ``FRAME\\n`` (no frame parameters):
  Chromium skips a fixed 6 bytes between frames.  A short last frame also
  trips a CHECK, so frames must all be the same, even, size.
* Chromium attaches no colour space to these frames, and the renderer
  then treats the samples as BT.601 *limited* range (Y 16..235).  Note that
  ``C420jpeg`` says nothing about range: it only names the chroma siting.
  So the default here is limited range; ``full_range=True`` writes JPEG-style
  0..255 YCbCr and adds ffmpeg's ``XCOLORRANGE=FULL`` tag, which ffmpeg
  honours and Chromium ignores.

``photo_frames`` turns a still photo into such frames, letterboxed onto a
640x480 canvas, so a test can show a known photo to the page's "webcam".
"""

import numpy as np
from PIL import Image

# BT.601 luma weights (the ones JPEG/JFIF uses too).
KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


def rgb_to_ycbcr(rgb, full_range=False):
    """Convert HxWx3 uint8 RGB to float Y, Cb, Cr planes (BT.601)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = KR * r + KG * g + KB * b                  # 0..255
    cb = (b - y) / (2 * (1 - KB))                 # -127.5..127.5
    cr = (r - y) / (2 * (1 - KR))
    if full_range:                                # JPEG: use all of 0..255
        return y, cb + 128, cr + 128
    return 16 + y * 219 / 255, 128 + cb * 224 / 255, 128 + cr * 224 / 255


def _to_u8(plane):
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


def _subsample(plane):
    """Average each 2x2 block (centred chroma siting, as in C420jpeg)."""
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def write_y4m(path, frames, fps=30, full_range=False):
    """Write ``frames`` (HxWx3 uint8 RGB arrays, W and H even) to ``path``.

    Returns the number of frames written.
    """
    count = 0
    with open(path, "wb") as out:
        for frame in frames:
            frame = np.asarray(frame)
            h, w = frame.shape[:2]
            if frame.dtype != np.uint8 or frame.shape != (h, w, 3):
                raise ValueError("frames must be HxWx3 uint8 RGB arrays")
            if h % 2 or w % 2:
                raise ValueError(f"width and height must be even, got {w}x{h}")
            if count == 0:
                size = (h, w)
                tags = f"W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg"
                if full_range:
                    tags += " XCOLORRANGE=FULL"
                out.write(f"YUV4MPEG2 {tags}\n".encode("ascii"))
            elif (h, w) != size:
                raise ValueError("all frames must have the same size")
            y, cb, cr = rgb_to_ycbcr(frame, full_range)
            out.write(b"FRAME\n")
            out.write(_to_u8(y).tobytes())
            out.write(_to_u8(_subsample(cb)).tobytes())
            out.write(_to_u8(_subsample(cr)).tobytes())
            count += 1
    if count == 0:
        raise ValueError("no frames to write")
    return count


def fit_photo(image, size=(640, 480), background=(0, 0, 0)):
    """Scale ``image`` to fit inside ``size`` (width, height), keeping its
    aspect ratio, and centre it on a ``background`` canvas (letterbox).

    ``image`` may be a path, a PIL image or an HxWx3 uint8 array.
    Returns an HxWx3 uint8 array.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    image = image.convert("RGB")
    width, height = size
    scale = min(width / image.width, height / image.height)
    fitted = (max(1, round(image.width * scale)),
              max(1, round(image.height * scale)))
    canvas = Image.new("RGB", size, background)
    canvas.paste(image.resize(fitted, Image.Resampling.LANCZOS),
                 ((width - fitted[0]) // 2, (height - fitted[1]) // 2))
    return np.asarray(canvas)


def photo_frames(image, size=(640, 480), n=1):
    """Yield ``n`` copies of ``image`` letterboxed onto a ``size`` frame.

    Chromium loops the file, so one frame is already an endless still
    webcam; raise ``n`` only if a consumer needs a clip of some length
    (each 640x480 frame costs 460 KB).
    """
    frame = fit_photo(image, size)
    for _ in range(n):
        yield frame
