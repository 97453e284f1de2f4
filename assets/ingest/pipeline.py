"""The streaming parts of a load: the reader/validator worker thread that feeds COPY,
the duplicate check's 8 bytes a row, and the spool of problem rows for the quarantine.
Plain Python, no SQL: the loader drives them inside its transaction."""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from assets.ingest.limits import IngestLimits
from assets.ingest.readers import FileFormat
from assets.ingest.registry import ExportType
from assets.ingest.validation import BatchValidator


class KeyWords:
    """The duplicate check's 8 bytes a row: a uint64 array reserved up front for the most
    rows the file can hold (address space only: pages are committed as they are written),
    so it never needs a copy to grow, and resident memory is what the rows use."""

    def __init__(self, capacity: int) -> None:
        self.data = np.empty(max(capacity, 1 << 16), dtype=np.uint64)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=np.uint64)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size:need] = values
        self.size = need

    def duplicate_candidates(self) -> np.ndarray:
        """Row numbers whose 32-bit key hash is shared with another row (sorted in place,
        scanned in blocks so no temporary is as large as the array)."""
        words = self.data[: self.size]
        words.sort()
        found = []
        block = 1 << 20
        for start in range(0, len(words), block):
            seg = words[max(start - 1, 0): start + block]
            hashes = seg >> np.uint64(32)
            same = hashes[1:] == hashes[:-1]
            if not same.any():
                continue
            mask = np.zeros(len(seg), dtype=bool)
            mask[1:] |= same
            mask[:-1] |= same
            found.append((seg[mask] & np.uint64(0xFFFFFFFF)).astype(np.int64))
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(found))


def row_capacity(stored: Path, fmt: FileFormat, export: ExportType, limits: IngestLimits) -> int:
    """The most rows the file can hold: a row takes at least one byte per column."""
    size = stored.stat().st_size
    # Compressed: a typical ratio (past it, the array doubles once in a while).
    expanded = size * (20 if fmt.compression or fmt.format == "xlsx" else 1)
    return min(limits.max_rows, expanded // max(len(export.columns), 2) + 1)


_DONE = object()


def pipelined(chunks, validator: BatchValidator):
    """Read + validate + serialize in a worker thread (Arrow and numpy release the GIL)
    while this thread feeds COPY: the client and the server work at the same time."""
    results: queue.Queue = queue.Queue(maxsize=3)
    stop = threading.Event()
    write_opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                checked = validator.check(chunk)
                payload = None
                if checked.good.num_rows:
                    sink = io.BytesIO()
                    pacsv.write_csv(checked.good, sink, write_opts)
                    payload = sink.getbuffer()
                results.put((chunk.num_rows, checked.bad_rows, checked.problems, payload,
                             checked.key_words))
            results.put(_DONE)
        except BaseException as exc:  # handed over to the consuming thread
            results.put(exc)

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = results.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                results.get(timeout=0.1)
        worker.join()


def spool_problems(spool, problems: pa.Table, batch_id: int) -> None:
    problems = problems.append_column(
        "batch_id", pa.array(np.full(problems.num_rows, batch_id, dtype=np.int64)))
    spool.seek(0, io.SEEK_END)
    pacsv.write_csv(problems, spool,
                    pacsv.WriteOptions(include_header=False, quoting_style="needed"))
