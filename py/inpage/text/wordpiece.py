"""The WordPiece model (BERT and its kin): greedy longest-match-first over the vocabulary."""

from __future__ import annotations

from ..errors import TokenizerError
from .cache import LRUCache
from .registry import get
from .vocab import VocabLookups


class WordPiece(VocabLookups):
    def __init__(self, vocab: dict[str, int], unk_token: str = "[UNK]", prefix: str = "##",
                 max_input_chars_per_word: int = 100):
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}
        self.unk_token = unk_token
        self.prefix = prefix
        self.max_chars = max_input_chars_per_word
        # No piece is longer than the longest vocabulary entry, so no longer candidate is tried.
        self.longest = max((len(t) for t in vocab), default=0)
        self.cache = LRUCache()

    @classmethod
    def from_config(cls, c):
        vocab = get(c, "vocab", None, dict)
        if vocab is None:
            raise KeyError("vocab")
        for token, i in vocab.items():
            if not isinstance(i, int) or isinstance(i, bool) or i < 0:
                raise ValueError(f"vocab id of {token!r} must be a non-negative integer, not {i!r}")
        return cls(vocab, get(c, "unk_token", "[UNK]", str), get(c, "continuing_subword_prefix", "##", str),
                   get(c, "max_input_chars_per_word", 100, int))

    def _unk(self, length: int) -> list:
        unk_id = self.vocab.get(self.unk_token)
        if unk_id is None:
            raise TokenizerError(f'tokenizer.json: the WordPiece unk_token "{self.unk_token}" is not in its vocab, '
                                 "so an unknown word cannot be encoded; fix the tokenizer.json")
        return [(unk_id, self.unk_token, 0, length)]

    def tokenize(self, word: str) -> list:
        cached = self.cache.get(word)
        if cached is not None:
            return cached
        tokens = self._tokenize(word)
        self.cache.put(word, tokens)
        return tokens

    def _tokenize(self, word: str) -> list:
        n = len(word)
        if n > self.max_chars:
            return self._unk(n)
        vocab, prefix, longest = self.vocab, self.prefix, self.longest
        out = []
        start = 0
        while start < n:
            end = min(n, start + (longest if start == 0 else max(longest - len(prefix), 0)))
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                token_id = vocab.get(piece)
                if token_id is not None:
                    found = (token_id, piece, start, end)
                    break
                end -= 1
            if found is None:
                return self._unk(n)
            out.append(found)
            start = end
        return out
