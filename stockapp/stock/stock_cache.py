"""The whole-stock document (``GET /stock``), serialised once per version and
kept in this process until the stock changes.

The key is the stock's version (``reads.stock_version``) and the collections
the caller may see, so a collection-limited token gets documents of its own.
The cache is bounded: at most ``STOCK_CACHE_BYTES`` in all, and a document
larger than a quarter of that is never kept (it streams, as a million
members must); the least recently used document goes first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from flask import Flask, current_app

_EXTENSION = "stockapp.stock_cache"
# One key: the stock's version and the collections a caller sees (None: all).
Key = tuple[str, frozenset[str] | None]


class DocumentCache:
    """Serialised documents by key, in at most ``capacity`` bytes; safe to
    share between the threads of one worker."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.largest = capacity // 4
        self._documents: OrderedDict[Key, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Key) -> bytes | None:
        with self._lock:
            document = self._documents.get(key)
            if document is not None:
                self._documents.move_to_end(key)
            return document

    def put(self, key: Key, document: bytes) -> None:
        if len(document) > self.largest:
            return
        with self._lock:
            if key in self._documents:
                return
            self._documents[key] = document
            self._size += len(document)
            while self._size > self.capacity:
                _, dropped = self._documents.popitem(last=False)
                self._size -= len(dropped)

    def remembering(self, key: Key, pieces: Iterable[str]) -> Iterator[bytes]:
        """``pieces``, encoded, as they come; once all have been sent, the whole
        document is kept under ``key`` unless it grew too large to keep."""
        kept: list[bytes] | None = []
        size = 0
        for piece in pieces:
            encoded = piece.encode()
            yield encoded
            if kept is not None:
                size += len(encoded)
                kept.append(encoded)
                if size > self.largest:
                    kept = None
        if kept is not None:
            self.put(key, b"".join(kept))


def init_stock_cache(app: Flask) -> None:
    """Give ``app`` an empty cache of ``STOCK_CACHE_BYTES`` (0: none kept)."""
    app.extensions[_EXTENSION] = DocumentCache(int(app.config["STOCK_CACHE_BYTES"]))


def stock_cache() -> DocumentCache:
    return current_app.extensions[_EXTENSION]
