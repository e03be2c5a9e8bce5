"""Errors that inpage raises, each naming what went wrong in words a user can act on."""


class InpageError(Exception):
    """Base class for every error inpage raises on purpose."""


class ImageDecodeError(InpageError):
    """The input could not be read as an image (not an image, truncated, or an unsupported array)."""


class ManifestError(InpageError):
    """The model manifest is missing, malformed, or does not name the requested model."""


class ModelIntegrityError(InpageError):
    """A model file's bytes do not match the sha256 recorded in the manifest."""


class ModelLoadError(InpageError):
    """A model file could not be fetched, or the runtime refused to create a session from it."""
