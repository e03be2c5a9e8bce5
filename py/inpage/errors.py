"""Errors that inpage raises, each naming what went wrong and what to do, in one line.

Every failure a caller can meet is one of these, on CPython and in the page alike. In the page the
class name becomes the JavaScript error's ``name`` and the message its ``message``; the CLI prints
the message and exits non-zero. Nothing else should ever reach a user as a traceback.
"""

from __future__ import annotations


class InpageError(Exception):
    """Base class for every error inpage raises on purpose."""

    def __init__(self, message: str):
        # One line, always: a multi-line message would print as a wall of text on the page.
        super().__init__(" ".join(str(message).split()))


class ImageDecodeError(InpageError):
    """The input could not be read as an image (not an image, truncated, too large, unsupported)."""


class ManifestError(InpageError):
    """The model manifest is missing, malformed, or does not match the model it describes."""


class ModelIntegrityError(InpageError):
    """A file's bytes do not match the sha256 recorded for it."""


class ModelLoadError(InpageError):
    """A model file could not be fetched, or the runtime refused to create a session from it."""


class InvalidArgumentError(InpageError, ValueError):
    """An argument of a public call has the wrong type or is out of range; the message names it."""


class TaskMismatchError(InpageError, TypeError):
    """A model was asked for a task it does not do (``classify`` on a detector, say)."""


class InferenceError(InpageError):
    """The runtime failed while running a model, or the model's outputs are not what its task reads."""


class TokenizerError(InpageError):
    """A tokenizer.json cannot be read or uses a part inpage does not implement; the message names it."""


class UserCodeError(InpageError):
    """A user's own pre- or post-processing module raised; the message names its file and line."""


class UserCodeTimeout(BaseException):
    """Raised inside a user's pre- or post-processing that ran past its time limit, to stop it
    (a BaseException, so that the user's own ``except Exception`` cannot swallow it)."""


class BuildError(InpageError):
    """The site cannot be built; the message names the file, model or tool at fault."""


class ProjectError(InpageError):
    """``inpage add`` cannot add a model to a project folder as asked."""


def one_line(error: BaseException) -> str:
    """``error`` as one line for a user: the message, or the type name where there is none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def non_finite_result(model: str) -> InferenceError:
    """The error for a result holding NaN or infinity, which JSON cannot carry: the same words in the
    page (where results cross as JSON) and from the CLI's ``--json``."""
    return InferenceError(f"model {model!r} produced NaN or infinite values; its outputs are not usable as JSON")
