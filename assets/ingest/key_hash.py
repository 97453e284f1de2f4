"""A 32-bit hash of the natural key of each row, vectorized with numpy: the duplicate
check of a batch keeps one 64-bit word per row (hash, row number) instead of the keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_P = np.uint64(0x100000001B3)
_HEAD_BYTES = 64  # bytes hashed from the front of a key, and ...
_TAIL_BYTES = 16  # ... from the back of a longer one (collisions are resolved exactly)


def key_hash32(keys: pa.Array) -> np.ndarray:
    """A 32-bit hash of each string, vectorized over byte positions (collisions are
    resolved later by comparing the candidates' keys exactly)."""
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32)[keys.offset:keys.offset + n + 1]
    data = np.frombuffer(keys.buffers()[2], dtype=np.uint8) if keys.buffers()[2] else \
        np.zeros(1, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    longest = int(lengths.max())
    with np.errstate(over="ignore"):
        h = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        if longest and (lengths == longest).all() and longest <= _HEAD_BYTES:
            block = data[int(starts[0]):int(starts[0]) + n * longest].reshape(n, longest)
            for j in range(longest):
                h = h * _P + block[:, j].astype(np.uint64)
        else:
            last = len(data) - 1
            for j in range(min(longest, _HEAD_BYTES)):
                byte = data[np.minimum(starts + j, last)].astype(np.uint64)
                h = np.where(lengths > j, h * _P + byte + np.uint64(1), h)
            if longest > _HEAD_BYTES:
                ends = offsets[1:].astype(np.int64)
                for j in range(1, _TAIL_BYTES + 1):
                    byte = data[np.clip(ends - j, 0, last)].astype(np.uint64)
                    h = np.where(lengths >= _HEAD_BYTES + j, h * _P + byte, h)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h >> np.uint64(32)
