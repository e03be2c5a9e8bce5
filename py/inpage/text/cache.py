"""A bounded least-recently-used cache, so that memory is set by the tokenizer, never by the input."""

from __future__ import annotations

from collections import OrderedDict

# Words longer than this are not cached: they are rare, and each would pin a large value.
MAX_KEY_LENGTH = 256
DEFAULT_CAPACITY = 10_000


class LRUCache:
    __slots__ = ("capacity", "data")

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = capacity
        self.data: OrderedDict = OrderedDict()

    def get(self, key):
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        if self.capacity <= 0 or len(key) >= MAX_KEY_LENGTH:
            return
        data = self.data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.capacity:
            data.popitem(last=False)

    def clear(self) -> None:
        self.data.clear()

    def __len__(self) -> int:
        return len(self.data)
