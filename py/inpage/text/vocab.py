"""The lookups every model with a token -> id table offers (BPE and WordPiece keep one; Unigram a list)."""

from __future__ import annotations


class VocabLookups:
    """``token_to_id``, ``id_to_token`` and ``vocab_size`` over ``self.vocab`` and its inverse ``self.vocab_r``."""

    vocab: dict[str, int]
    vocab_r: dict[int, str]

    def token_to_id(self, token: str):
        return self.vocab.get(token)

    def id_to_token(self, i: int):
        return self.vocab_r.get(i)

    def vocab_size(self) -> int:
        return len(self.vocab)
