"""Turning whatever the caller has (encoded bytes, a PIL image, an RGB or RGBA array) into a PIL RGB image."""

from __future__ import annotations

import io
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageDecodeError

ImageInput = Union[bytes, bytearray, memoryview, Image.Image, np.ndarray]


def to_pil_rgb(image: ImageInput) -> Image.Image:
    """Return ``image`` as a PIL image in RGB mode.

    Accepts encoded bytes (PNG, JPEG, WebP, ...), a PIL image of any mode, or a ``uint8`` array of
    shape HxWx3 (RGB) or HxWx4 (RGBA, as a canvas gives it; alpha is dropped).
    """
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _decode(bytes(image))
    if isinstance(image, np.ndarray):
        return _from_array(image)
    raise ImageDecodeError(
        f"unsupported image type {type(image).__name__}: pass encoded bytes, a PIL image "
        "or a uint8 HxWx3/HxWx4 array"
    )


def _decode(data: bytes) -> Image.Image:
    if not data:
        raise ImageDecodeError("the file is empty")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # load() forces the full decode here, so a truncated file fails now and not later.
            opened.load()
            return opened.convert("RGB")
    except UnidentifiedImageError:
        raise ImageDecodeError("the file is not an image Pillow can read (PNG, JPEG, WebP, GIF, BMP, ...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"the image is damaged or truncated: {exc}") from None


def _from_array(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageDecodeError(
            f"image arrays must be uint8 HxWx3 or HxWx4, not {array.dtype} {array.shape}"
        )
    height, width, channels = array.shape
    if height == 0 or width == 0:
        raise ImageDecodeError("the image has no pixels")
    if channels == 3:
        return Image.fromarray(np.ascontiguousarray(array), "RGB")
    # RGBA (e.g. canvas ImageData): Pillow's raw decoder drops alpha while copying, in one pass.
    # (frombuffer would map RGBX memory as is and hand back a 4-channel image.)
    return Image.frombytes("RGB", (width, height), np.ascontiguousarray(array), "raw", "RGBX")
