"""Text tokenization in plain Python: reads Hugging Face ``tokenizer.json`` files and gives the ids the
Rust ``tokenizers`` library gives, on CPython and under Pyodide alike.

    from inpage.text import Tokenizer
    tok = Tokenizer.from_file("tokenizer.json")
    tok.encode("Hello world").ids
"""

from __future__ import annotations

from ..errors import TokenizerError
from .encoding import Encoding
from .tokenizer import Tokenizer

__all__ = ["Encoding", "Tokenizer", "TokenizerError"]
