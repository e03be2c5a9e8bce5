"""``Encoding``: the tokens of one text (or pair of texts) and the parallel lists a model is fed."""

from __future__ import annotations

from ..errors import TokenizerError


class Encoding:
    """Token ids and what goes with them, one entry per token: ``type_ids`` (which text of a pair),
    ``tokens`` (their strings), ``offsets`` (``(start, end)`` character spans in the text they came
    from; ``(0, 0)`` for added special tokens and padding), ``word_ids``, ``special_tokens_mask`` and
    ``attention_mask`` (0 for padding)."""

    __slots__ = ("ids", "type_ids", "tokens", "offsets", "word_ids", "special_tokens_mask", "attention_mask")

    def __init__(self, ids=None, type_ids=None, tokens=None, offsets=None, word_ids=None,
                 special_tokens_mask=None, attention_mask=None):
        self.ids = ids if ids is not None else []
        n = len(self.ids)
        self.type_ids = type_ids if type_ids is not None else [0] * n
        self.tokens = tokens if tokens is not None else []
        self.offsets = offsets if offsets is not None else []
        self.word_ids = word_ids if word_ids is not None else [None] * n
        self.special_tokens_mask = special_tokens_mask if special_tokens_mask is not None else [0] * n
        self.attention_mask = attention_mask if attention_mask is not None else [1] * n

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Encoding(num_tokens={len(self.ids)}, ids={self.ids[:8]}{'...' if len(self.ids) > 8 else ''})"

    @property
    def words(self):
        return self.word_ids

    @classmethod
    def special(cls, ids, tokens, type_id: int) -> "Encoding":
        """Added special tokens: no offsets, no word, marked special."""
        n = len(ids)
        return cls(list(ids), [type_id] * n, list(tokens), [(0, 0)] * n, [None] * n, [1] * n, [1] * n)

    def copy(self) -> "Encoding":
        return Encoding(list(self.ids), list(self.type_ids), list(self.tokens), list(self.offsets),
                        list(self.word_ids), list(self.special_tokens_mask), list(self.attention_mask))

    def extend(self, other: "Encoding") -> None:
        self.ids += other.ids
        self.type_ids += other.type_ids
        self.tokens += other.tokens
        self.offsets += other.offsets
        self.word_ids += other.word_ids
        self.special_tokens_mask += other.special_tokens_mask
        self.attention_mask += other.attention_mask

    @classmethod
    def merge(cls, encodings) -> "Encoding":
        out = cls()
        for e in encodings:
            out.extend(e)
        return out

    def truncate(self, max_length: int, stride: int, direction: str) -> None:
        """Keep the first (``right``) or last (``left``) ``max_length`` tokens."""
        n = len(self.ids)
        if max_length >= n:
            return
        if max_length > 0 and stride >= max_length:
            raise TokenizerError(f"truncation stride {stride} must be less than the length kept, {max_length} "
                                 "(max_length less the special tokens); lower the stride or raise max_length")
        keep = slice(0, max_length) if direction == "right" else slice(n - max_length, n)
        for name in self.__slots__:
            setattr(self, name, getattr(self, name)[keep])

    def pad(self, length: int, pad_id: int, pad_type_id: int, pad_token: str, direction: str) -> None:
        missing = length - len(self.ids)
        if missing <= 0:
            return
        pads = {
            "ids": [pad_id] * missing, "type_ids": [pad_type_id] * missing, "tokens": [pad_token] * missing,
            "offsets": [(0, 0)] * missing, "word_ids": [None] * missing,
            "special_tokens_mask": [1] * missing, "attention_mask": [0] * missing,
        }
        for name, pad in pads.items():
            if direction == "left":
                setattr(self, name, pad + getattr(self, name))
            else:
                getattr(self, name).extend(pad)
