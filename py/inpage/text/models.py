"""Models: the tokenizer.json ``model`` section, turning each word into tokens ``(id, text, start, end)``."""

from __future__ import annotations

from ..errors import TokenizerError
from .bpe import BPE
from .registry import Registry
from .unigram import Unigram
from .wordpiece import WordPiece

MODELS = Registry("model")
MODELS.register("BPE")(BPE)
MODELS.register("Unigram")(Unigram)
MODELS.register("WordPiece")(WordPiece)


def build_model(config):
    if not isinstance(config, dict):
        raise TokenizerError("tokenizer.json: it has no model section; use the tokenizer.json the model was "
                             "exported with")
    if "type" not in config:
        # Old files leave the type out; the Rust library then tells the models apart by their fields.
        vocab = config.get("vocab")
        if isinstance(vocab, list):
            config = {**config, "type": "Unigram"}
        elif "merges" in config:
            config = {**config, "type": "BPE"}
        elif "continuing_subword_prefix" in config or "max_input_chars_per_word" in config:
            config = {**config, "type": "WordPiece"}
        elif "vocab" in config:
            config = {**config, "type": "WordLevel"}
        else:
            raise TokenizerError("tokenizer.json: its model section has no type, and its fields match no model's; use the "
                                 "tokenizer.json the model was exported with")
    return MODELS.build(config)
