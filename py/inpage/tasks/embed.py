"""Text embeddings: texts in, one vector per text out, for semantic search, clustering and de-duplication.

Example::

    model = await load_model("all-minilm-l6-v2")
    documents = await model.embed(["A cat sat on the mat.", "Stocks fell sharply today."])  # (2, 384)
    query = await model.embed("a kitten resting on a rug")                                   # (384,)
    ranking = np.argsort(-(documents @ query))   # unit vectors: the dot product is the cosine

A sentence-transformers export reads out as its training did: the token vectors
(``last_hidden_state``) are pooled over the text's real tokens, as ``1_Pooling/config.json`` says
(``mean``, ``cls``, ``max`` or ``mean_sqrt_len``), then scaled to unit length where ``modules.json``
lists a ``Normalize`` module. A graph that already pools (an output ``[N, D]``) is read as it is
(``pooling: none``). ``inpage add FOLDER`` writes both into the entry (``head.pooling`` and the
``normalize`` option).
"""

from __future__ import annotations

import numpy as np

from ..errors import InferenceError, ProjectError
from ..textinput import TextTask
from . import boolean, register_task

POOLING = ("mean", "cls", "max", "mean_sqrt_len", "none")
# sentence-transformers' pooling config keys, in the order it checks them.
_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max",
                 "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len"}
_NORMALIZE_MODULE = "sentence_transformers.models.Normalize"
# The sentence-transformers modules inpage runs: the graph is the Transformer, then pooling and Normalize here.
_MODULES_INPAGE_RUNS = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", _NORMALIZE_MODULE}


@register_task
class Embed(TextTask):
    name = "embed"
    method = "embed"
    defaults = {"normalize": True}
    option_help = {"normalize": "scale each vector to unit length (true/false)"}
    cli_help = "embed texts: one vector per text, for semantic search"

    @classmethod
    def recognise(cls, model):
        # sentence-transformers' files say so; a classifier's config (id2label) says otherwise.
        return super().recognise(model) and (
            "modules.json" in model.folder_files or "1_Pooling/config.json" in model.folder_files or not model.folder_json("config.json").get("id2label")
        )

    @classmethod
    def plan(cls, model):
        entry = super().plan(model)
        output = model.output or _token_output(model)
        shapes = {o.name: o.shape for o in model.outputs}
        if output not in shapes:
            raise ProjectError(f"the model has no output {output!r}; its outputs are {', '.join(shapes)}")
        shape = shapes[output]
        if output != model.outputs[0].name or len(model.outputs) > 1:
            entry["output"] = output
        if shape is not None and len(shape) == 2:
            pooling = "none"
            model.notes.append(f"output {output!r} is one vector per text already: read as it is, no pooling")
        else:
            pooling = _pooling(model)
        entry["head"] = {"pooling": pooling}
        modules = model.folder_files.get("modules.json")
        modules = [m for m in modules if isinstance(m, dict)] if isinstance(modules, list) else []
        unknown = [str(m.get("type")) for m in modules if m.get("type") not in _MODULES_INPAGE_RUNS]
        if unknown and pooling != "none":
            # A Dense projection (or any other module) after pooling is part of the model: pooling
            # the token vectors without it would give vectors of the wrong space, silently.
            raise ProjectError(f"modules.json lists {', '.join(unknown)} after the transformer, which inpage does not run; "
                               "export the whole sentence-transformers model into the graph (an output sentence_embedding [N, D])")
        normalize = any(m.get("type") == _NORMALIZE_MODULE for m in modules)
        entry["options"] = {"normalize": normalize}
        model.notes.append(f"normalize: {'on (modules.json lists Normalize)' if normalize else 'off (no Normalize module in modules.json)'}")
        return entry

    @classmethod
    def check_spec(cls, spec):
        problems = super().check_spec(spec)
        pooling = spec.head.get("pooling", "mean")
        if pooling not in POOLING:
            problems.append(f"head.pooling must be one of {', '.join(POOLING)}, not {pooling!r}")
        shape = spec.score_output.shape
        if shape is not None and len(shape) not in (2, 3):
            problems.append(f"output {spec.score_output.name!r} has shape {list(shape)}; an embedder gives [N, tokens, D] or [N, D]")
        return problems

    def __init__(self, spec):
        super().__init__(spec)
        self.pooling = spec.head.get("pooling", "mean")

    def check_options(self, options):
        options["normalize"] = boolean("normalize", options["normalize"])
        return options

    def finish(self, outputs, context, options):
        hidden = np.asarray(outputs[self.spec.score_output.name])
        mask = np.asarray(context, dtype=bool)
        vector = self.pool(hidden, mask)
        if options["normalize"]:
            length = float(np.linalg.norm(vector))
            if length > 0:
                vector = vector / length
        return vector.astype(np.float32)

    def pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One text's vector (float64) from its token vectors ``[1, tokens, D]`` and attention mask."""
        if self.pooling == "none" or hidden.ndim == 2:
            if hidden.ndim != 2 or hidden.shape[0] != 1:
                raise InferenceError(f"model {self.spec.name!r} gave an output of shape {list(hidden.shape)}, not one vector [1, D] per text")
            return hidden[0].astype(np.float64)
        if hidden.ndim != 3 or hidden.shape[0] != 1 or hidden.shape[1] != mask.shape[0]:
            raise InferenceError(f"model {self.spec.name!r} gave an output of shape {list(hidden.shape)}, not token vectors [1, {mask.shape[0]}, D]")
        tokens = hidden[0].astype(np.float64)[mask]  # the text's own tokens, padding left out
        if self.pooling == "cls":
            return hidden[0, 0].astype(np.float64)
        if self.pooling == "max":
            return tokens.max(axis=0)
        total = tokens.sum(axis=0)
        count = max(len(tokens), 1)
        return total / (np.sqrt(count) if self.pooling == "mean_sqrt_len" else count)

    def combine(self, results):
        return np.stack(results)

    def payload(self, result):
        # Always a table, [N, D]: one text's vector is one row.
        return {"embeddings": result.reshape(-1, result.shape[-1])}

    def describe(self, result):
        lines = []
        for vector in result.reshape(-1, result.shape[-1]):
            head = " ".join(f"{v:.4f}" for v in vector[:6])
            lines.append(f"{vector.size}-d, length {float(np.linalg.norm(vector)):.4f}: {head}{' ...' if vector.size > 6 else ''}")
        return lines


def _token_output(model) -> str:
    """The output of token vectors ([N, tokens, D]) or of pooled ones ([N, D]), by shape and name."""
    for wanted in ("sentence_embedding", "last_hidden_state", "token_embeddings"):
        if any(o.name == wanted for o in model.outputs):
            return wanted
    candidates = [o for o in model.outputs if o.shape and len(o.shape) in (2, 3)]
    if len(candidates) == 1:
        return candidates[0].name
    names = ", ".join(o.name for o in model.outputs)
    raise ProjectError(f"cannot tell which output holds the embeddings ({names}); say which with --output NAME")


def _pooling(model) -> str:
    config = model.folder_json("1_Pooling/config.json")
    if not config:
        model.notes.append("pooling: mean over the text's tokens (no 1_Pooling/config.json; sentence-transformers' default)")
        return "mean"
    chosen = [mode for key, mode in _POOLING_KEYS.items() if config.get(key)]
    others = [key for key, value in config.items() if key.startswith("pooling_mode_") and value and key not in _POOLING_KEYS]
    if others or len(chosen) != 1:
        modes = ", ".join(others + chosen) or "none"
        raise ProjectError(f"1_Pooling/config.json asks for pooling {modes}; inpage pools one way of: mean, cls, max, mean_sqrt_len")
    model.notes.append(f"pooling: {chosen[0]} (from 1_Pooling/config.json)")
    return chosen[0]
