"""inpage: run ONNX models in a web page, with the same Python pre- and post-processing in the page
(Pyodide driving onnxruntime-web) and on CPython (driving onnxruntime).

Example::

    from inpage import load_model
    model = await load_model("efficientnet-lite0")
    predictions = await model.classify(image, top_k=5)
"""

from .classify import Prediction
from .detect import Detection
from .errors import (
    ImageDecodeError,
    InpageError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
)
from .model import Model, Timings, load_model

__version__ = "0.1.0"

__all__ = [
    "Detection",
    "ImageDecodeError",
    "InpageError",
    "ManifestError",
    "Model",
    "ModelIntegrityError",
    "ModelLoadError",
    "Prediction",
    "Timings",
    "load_model",
]
