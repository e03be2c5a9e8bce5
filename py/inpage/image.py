"""Turning whatever the caller has (encoded bytes, a PIL image, an array) into the RGB pixels the user sees.

The same rules hold on CPython and in the page, for every path an image can take:

* **Orientation.** An EXIF orientation tag is applied, so a phone photo is upright, as a browser
  shows it; boxes and keypoints come back in the upright image's pixels.
* **Transparency.** Pixels are composited over white (:data:`ALPHA_BACKGROUND`), whatever colour
  hides under alpha 0. A canvas stores colour multiplied by alpha, so what hides under alpha 0 is
  lost by the time the page reads its pixels: compositing is the one rule every source can follow.
* **Depth.** 16-bit images are scaled to 8 bits (``value >> 8``), for grayscale and colour.
* **Formats.** :data:`FORMATS` are read on both sides (Pyodide's Pillow reads no AVIF or HEIC);
  anything else, a damaged file, or an image over :data:`MAX_PIXELS` raises
  :class:`ImageDecodeError` before the pixels are decoded. Animated and multi-page files give
  their first frame.
"""

from __future__ import annotations

import io
import warnings
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageDecodeError, one_line

ImageInput = Union[bytes, bytearray, memoryview, Image.Image, np.ndarray]

# Largest image inpage decodes: 64 megapixels (8000 x 8000, or a 48 MP phone photo). Its RGB
# pixels take 192 MB; in the page they must fit in Pyodide's WebAssembly memory beside numpy.
MAX_PIXELS = 64_000_000
ALPHA_BACKGROUND = (255, 255, 255)
# Formats that both Pillow on CPython and Pyodide's Pillow 10.2 read. (Phones' multi-picture JPEGs
# open through JPEG.)
FORMATS = ("BMP", "GIF", "ICO", "JPEG", "PNG", "PPM", "TIFF", "WEBP")
_SNIFF = {b"ftypavif": "AVIF", b"ftypavis": "AVIF", b"ftypheic": "HEIC", b"ftypheix": "HEIC", b"ftypmif1": "HEIF"}


def to_rgb(image: ImageInput) -> Image.Image:
    """Return ``image`` as an upright, opaque RGB PIL image (see the module's rules).

    Accepts encoded bytes, a PIL image of any mode, or an array (or anything with ``__array__``):
    ``uint8`` or ``uint16``, HxW (grayscale), HxWx1, HxWx3 (RGB) or HxWx4 (RGBA, as a canvas gives it).
    """
    if isinstance(image, Image.Image):
        _check_size(*image.size)
        return _flatten(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode(image)
    if isinstance(image, np.ndarray):
        return from_array(image)
    if hasattr(image, "__array__"):
        # Pixels held elsewhere (the page's frames) become an array only now, when they are read.
        return from_array(np.asarray(image))
    raise ImageDecodeError(
        f"unsupported image type {type(image).__name__}: pass encoded bytes, a PIL image, or a uint8 "
        "array of shape HxW, HxWx3 or HxWx4"
    )


def decode(data: bytes | bytearray | memoryview) -> Image.Image:
    """Decode an encoded image (see :data:`FORMATS`) into upright, opaque RGB."""
    if not len(data):
        raise ImageDecodeError("the image file is empty")
    head = bytes(data[:16])
    kind = _SNIFF.get(head[4:12])
    if kind:
        raise ImageDecodeError(f"{kind} images are not supported (the page's Pillow cannot read them); convert it to PNG, JPEG or WebP")
    try:
        with warnings.catch_warnings():
            # Pillow warns between its own two limits; ours is lower, and says so as an error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
        with opened:
            _check_size(*opened.size)
            # load() forces the whole decode now, so a truncated file fails here and not later.
            opened.load()
            return _flatten(opened)
    except UnidentifiedImageError:
        raise ImageDecodeError(f"not an image inpage can read; it reads {', '.join(FORMATS)}") from None
    except Image.DecompressionBombError:
        raise ImageDecodeError(f"the image is over inpage's limit of {MAX_PIXELS / 1e6:.0f} megapixels (Pillow refuses it as a possible decompression bomb); downscale it first") from None
    except MemoryError:
        raise ImageDecodeError("ran out of memory decoding the image; use a smaller image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageDecodeError(f"the image is damaged or truncated ({one_line(exc)})") from None


def from_array(array: np.ndarray) -> Image.Image:
    """An RGB image from a uint8/uint16 array: HxW, HxWx1, HxWx3 or HxWx4 (RGBA, composited)."""
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageDecodeError(f"image arrays must be uint8 (or uint16) HxW, HxWx1, HxWx3 or HxWx4, not {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ImageDecodeError("the image has no pixels")
    _check_size(width, height)
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    array = np.ascontiguousarray(array)
    if array.ndim == 2:
        return Image.frombytes("L", (width, height), array).convert("RGB")
    if array.shape[2] == 3:
        return Image.frombytes("RGB", (width, height), array)
    # RGBA (canvas ImageData, video frames). A camera frame is opaque: one pass drops alpha.
    if int(array[:, :, 3].min()) == 255:
        return Image.frombytes("RGB", (width, height), array, "raw", "RGBX")
    return _flatten(Image.frombuffer("RGBA", (width, height), array, "raw", "RGBA", 0, 1))


def _flatten(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation, scale 16-bit to 8-bit, composite alpha over white: an RGB image."""
    # Animated and multi-page files open at their first frame, which is the one used.
    oriented = ImageOps.exif_transpose(image) if _orientation(image) not in (None, 1) else image
    mode = oriented.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale (PNG, TIFF): Pillow's own conversion clips to 255, so scale first.
        values = np.asarray(oriented, dtype=np.uint32 if mode == "I" else None)
        if mode == "I":
            values = np.clip(values, 0, 65535)
        return Image.fromarray((values.astype(np.uint32) >> 8).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        raise ImageDecodeError("32-bit floating-point images are not supported; save it as 8- or 16-bit PNG or TIFF")
    if mode == "RGB":
        return oriented
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in oriented.info)
    if not has_alpha:
        return oriented.convert("RGB")
    rgba = oriented.convert("RGBA")
    background = Image.new("RGB", rgba.size, ALPHA_BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:  # a malformed EXIF block must not make a readable image unreadable
        return None


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(
            f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over inpage's limit of "
            f"{MAX_PIXELS / 1e6:.0f}; downscale it first"
        )
