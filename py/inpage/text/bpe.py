"""The BPE model (GPT-2, RoBERTa, Llama-style byte-fallback BPE): merge pairs of symbols by rank.

Merging uses a heap of candidate pairs over a linked list of symbols, lowest rank first and leftmost
first among equal ranks, as the Rust library does; this is O(n log n) in the word's length, so a
megabyte without a space costs seconds, not hours. Words already seen are kept in a bounded cache.
"""

from __future__ import annotations

import heapq

from ..errors import TokenizerError
from .cache import LRUCache
from .registry import get
from .vocab import VocabLookups


class BPE(VocabLookups):
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], unk_token=None,
                 continuing_subword_prefix=None, end_of_word_suffix=None, fuse_unk=False,
                 byte_fallback=False, ignore_merges=False):
        self.vocab = vocab
        self.vocab_r = {i: t for t, i in vocab.items()}
        self.unk_token = unk_token
        self.prefix = continuing_subword_prefix
        self.suffix = end_of_word_suffix
        self.fuse_unk = fuse_unk
        self.byte_fallback = byte_fallback
        self.ignore_merges = ignore_merges
        # A pair of ids is one integer key: a * width + b.
        self.width = max(vocab.values(), default=0) + 1
        cut = len(continuing_subword_prefix or "")
        table = {}
        self.rank_new_id = [0] * len(merges)
        for rank, (a, b) in enumerate(merges):
            a_id, b_id = vocab.get(a), vocab.get(b)
            merged = vocab.get(a + b[cut:])
            missing = a if a_id is None else b if b_id is None else (a + b[cut:]) if merged is None else None
            if missing is not None:
                raise TokenizerError(f"tokenizer.json: BPE merge {a!r} {b!r} uses {missing!r}, which is not in the "
                                     "vocab; the vocab and merges do not belong together")
            table[a_id * self.width + b_id] = (rank, merged)
            self.rank_new_id[rank] = merged
        self.merges = table
        self.byte_ids = None
        if byte_fallback:
            self.byte_ids = [vocab.get(f"<0x{b:02X}>") for b in range(256)]
        self.cache = LRUCache()

    @classmethod
    def from_config(cls, c):
        vocab = get(c, "vocab", None, dict)
        merges = c.get("merges")
        if vocab is None or merges is None:
            raise KeyError("vocab" if vocab is None else "merges")
        for token, i in vocab.items():
            if not isinstance(i, int) or isinstance(i, bool) or i < 0:
                raise ValueError(f"vocab id of {token!r} must be a non-negative integer, not {i!r}")
        if not isinstance(merges, list):
            raise TypeError("'merges' must be a list")
        pairs = []
        lines = [m for m in merges if not (isinstance(m, str) and m.startswith("#version"))]
        for rank, merge in enumerate(lines):
            if isinstance(merge, str):
                parts = merge.split(" ")
            elif isinstance(merge, list):
                parts = merge
            else:
                parts = None
            if not parts or len(parts) != 2 or not all(isinstance(p, str) for p in parts):
                raise TokenizerError(f"tokenizer.json: BPE merge {rank + 1} ({merge!r}) is not a pair of tokens; "
                                     "each merge is \"a b\" or [\"a\", \"b\"]")
            pairs.append((parts[0], parts[1]))
        dropout = c.get("dropout")
        if dropout is not None and not (isinstance(dropout, (int, float)) and 0.0 <= dropout <= 1.0):
            raise ValueError("'dropout' must be between 0 and 1")
        # Dropout is a training-time randomization: encoding here is always the deterministic one.
        return cls(vocab, pairs, get(c, "unk_token", None, str), get(c, "continuing_subword_prefix", None, str),
                   get(c, "end_of_word_suffix", None, str), get(c, "fuse_unk", False, bool),
                   get(c, "byte_fallback", False, bool), get(c, "ignore_merges", False, bool))

    def tokenize(self, word: str) -> list:
        if not word:
            return []
        if self.ignore_merges:
            token_id = self.vocab.get(word)
            if token_id is not None:
                return [(token_id, word, 0, len(word))]
        cached = self.cache.get(word)
        if cached is not None:
            return cached
        tokens = self._merge_word(word)
        self.cache.put(word, tokens)
        return tokens

    def _unk_id(self) -> int:
        unk_id = self.vocab.get(self.unk_token)
        if unk_id is None:
            raise TokenizerError(f'tokenizer.json: the BPE unk_token "{self.unk_token}" is not in its vocab, so an '
                                 "unknown character cannot be encoded; fix the tokenizer.json")
        return unk_id

    def _merge_word(self, word: str) -> list:
        vocab, prefix, suffix = self.vocab, self.prefix, self.suffix
        if not prefix and not suffix:
            ids = list(map(vocab.get, word))
            if None not in ids:  # every character is in the vocab: the usual case, done at C speed
                starts, ends = list(range(len(word))), list(range(1, len(word) + 1))
                return self._finish(ids, starts, ends)
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        unk = None  # pending unknown run: [id, start, end]
        last = len(word) - 1
        for i, ch in enumerate(word):
            piece = ch
            if i and prefix:
                piece = prefix + piece
            if i == last and suffix:
                piece = piece + suffix
            token_id = vocab.get(piece)
            if token_id is not None:
                if unk is not None:
                    ids.append(unk[0]), starts.append(unk[1]), ends.append(unk[2])
                    unk = None
                ids.append(token_id), starts.append(i), ends.append(i + 1)
                continue
            if self.byte_ids is not None:
                byte_ids = [self.byte_ids[b] for b in piece.encode("utf-8", "surrogatepass")]
                if None not in byte_ids:
                    for b in byte_ids:
                        ids.append(b), starts.append(i), ends.append(i + 1)
                    continue
            if self.unk_token is not None:
                if unk is not None and self.fuse_unk:
                    unk[2] = i + 1
                else:
                    if unk is not None:
                        ids.append(unk[0]), starts.append(unk[1]), ends.append(unk[2])
                    unk = [self._unk_id(), i, i + 1]
        if unk is not None:
            ids.append(unk[0]), starts.append(unk[1]), ends.append(unk[2])
        return self._finish(ids, starts, ends)

    def _finish(self, ids: list, starts: list, ends: list) -> list:
        if len(ids) > 1 and self.merges:
            self._merge_all(ids, starts, ends)
        vocab_r = self.vocab_r
        return [(i, vocab_r[i], s, e) for i, s, e in zip(ids, starts, ends) if i is not None]

    def _merge_all(self, ids: list, starts: list, ends: list) -> None:
        """Apply merges in place; merged-away symbols are left as None in ``ids``.

        Heap entries are single integers, ``rank * n + position`` (the smallest is the lowest rank,
        then the leftmost), which the heap compares far faster than tuples."""
        merges, width, new_ids = self.merges, self.width, self.rank_new_id
        n = len(ids)
        nxt = list(range(1, n)) + [-1]
        prv = list(range(-1, n - 1))
        found = map(merges.get, [a * width + b for a, b in zip(ids, ids[1:])])
        heap = [m[0] * n + pos for pos, m in enumerate(found) if m is not None]
        heapq.heapify(heap)
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            key = pop(heap)
            rank = key // n
            pos = key - rank * n
            left = ids[pos]
            if left is None:
                continue
            right_pos = nxt[pos]
            if right_pos == -1:
                continue
            new_id = new_ids[rank]
            m = merges.get(left * width + ids[right_pos])
            # A stale entry still merges if the pair now there makes the same token (as in Rust).
            if m is None or m[1] != new_id:
                continue
            ids[pos] = new_id
            ends[pos] = ends[right_pos]
            ids[right_pos] = None
            after = nxt[right_pos]
            nxt[pos] = after
            if after != -1:
                prv[after] = pos
            before = prv[pos]
            if before != -1:
                m = merges.get(ids[before] * width + new_id)
                if m is not None:
                    push(heap, m[0] * n + before)
            if after != -1:
                m = merges.get(new_id * width + ids[after])
                if m is not None:
                    push(heap, m[0] * n + pos)
