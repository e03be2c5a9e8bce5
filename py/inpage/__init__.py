"""inpage: run ONNX models in a web page, with the same Python pre- and post-processing in the page
(Pyodide driving onnxruntime-web) and on CPython (driving onnxruntime).

Example::

    from inpage import load_model
    model = await load_model("efficientnet-lite0")
    predictions = await model.classify(image, top_k=5)

The public API: :func:`load_model` and :class:`Model`; the result types of the built-in tasks;
the errors; :func:`register_task` / :func:`register_head` to add a task or a detector head.
"""

from .errors import (
    BuildError,
    ImageDecodeError,
    InferenceError,
    InpageError,
    InvalidArgumentError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    TaskMismatchError,
    UserCodeError,
)
from .heads import Candidates, Head, register_head
from .model import Model, Timings, load_model
from .tasks import Task, register_task
from .tasks.classify import Prediction
from .tasks.detect import Detection
from .tasks.tabular import TabularPrediction

__version__ = "0.2.0"

__all__ = [
    "BuildError",
    "Candidates",
    "Detection",
    "Head",
    "ImageDecodeError",
    "InferenceError",
    "InpageError",
    "InvalidArgumentError",
    "ManifestError",
    "Model",
    "ModelIntegrityError",
    "ModelLoadError",
    "Prediction",
    "TabularPrediction",
    "Task",
    "TaskMismatchError",
    "Timings",
    "UserCodeError",
    "load_model",
    "register_head",
    "register_task",
]
