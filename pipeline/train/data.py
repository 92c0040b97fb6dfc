"""Tokenized shard folders -> packed, mixed, resumable training batches (DESIGN sections 4 and 6).

Each corpus (a shard folder written by `mathmine tokenize`) is one endless token stream: its documents in
shard order and row order, each already ending with EOS, repeated epoch after epoch. A training sequence
is the next seq_len + 1 tokens of one corpus's stream (inputs = seq[:-1], labels = seq[1:]); the corpus of
each sequence is drawn from the mixture weights by a counter-based RNG keyed by (seed, batch index), so
the draw needs no saved RNG state. The whole position is a small `DataState` (batches produced; per
corpus: shard, row, token offset inside that row's document, epoch): a reader built from it yields exactly
the batches an uninterrupted run would have produced next. Memory: one decoded row group per corpus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pipeline.config import UserError
from pipeline.tokenize import TokenizeError, parse_shard_metadata, read_manifest


class DataError(UserError, ValueError):
    """Unusable corpus folder, mixture or data state: one line naming the folder or the problem."""


@dataclass
class CorpusPosition:
    shard: int = 0   # index into the manifest's shard list
    row: int = 0     # row (document) inside that shard
    offset: int = 0  # tokens of that document already used
    epoch: int = 0   # completed passes over the corpus


@dataclass
class DataState:
    batches: int = 0  # batches produced: the mixture draw of batch b depends only on (seed, b)
    positions: list[CorpusPosition] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain ints and lists: fits torch.load(weights_only=True) and JSON."""
        return {"batches": self.batches, "positions": [asdict(p) for p in self.positions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataState:
        return cls(int(data["batches"]), [CorpusPosition(**p) for p in data["positions"]])


@dataclass
class Batch:
    tokens: np.ndarray  # int64 (batch_size, seq_len + 1): inputs tokens[:, :-1], labels tokens[:, 1:]
    corpus: np.ndarray  # int64 (batch_size,): index of the corpus each sequence came from


class _Stream:
    """One corpus as an endless token stream, read one row group at a time."""

    def __init__(self, folder: str, position: CorpusPosition):
        self.folder = folder
        try:
            manifest = read_manifest(folder)
        except TokenizeError as exc:
            raise DataError(str(exc)) from None
        self.tokenizer: dict[str, Any] = manifest["tokenizer"]
        self.paths = [Path(folder, entry["file"]) for entry in manifest["shards"]]
        self.rows = [int(entry["rows"]) for entry in manifest["shards"]]
        if sum(int(entry["tokens"]) for entry in manifest["shards"]) == 0:
            raise DataError(f"{folder}: no tokens")
        for path, rows in zip(self.paths, self.rows, strict=True):
            # Footers only (cheap): a shard written with another tokenizer would silently mix vocabularies.
            try:
                meta = pq.read_metadata(path)
            except OSError as exc:
                raise DataError(f"{path}: unreadable: {exc}") from None
            sha = parse_shard_metadata(meta.metadata)["tokenizer_sha256"]
            if sha != self.tokenizer.get("sha256"):
                raise DataError(f"{path}: tokenizer sha256 {sha or '(none)'} is not its manifest's")
            if meta.num_rows != rows:
                raise DataError(f"{path}: {meta.num_rows} rows, manifest says {rows}")
        p = position
        if not (0 <= p.shard < len(self.paths) and 0 <= p.row <= self.rows[p.shard] and p.offset >= 0):
            raise DataError(f"{folder}: position {p} does not fit this corpus")
        self.pos = CorpusPosition(**asdict(p))
        self._file: pq.ParquetFile | None = None
        self._file_shard = -1
        self._group_key: tuple[int, int] | None = None
        self._normalize()

    def _normalize(self) -> None:
        """Move past the end of a shard (and past empty shards); past the last shard starts a new epoch."""
        while self.pos.row >= self.rows[self.pos.shard]:
            self.pos.shard, self.pos.row, self.pos.offset = self.pos.shard + 1, 0, 0
            if self.pos.shard == len(self.paths):
                self.pos.shard, self.pos.epoch = 0, self.pos.epoch + 1

    def _group(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(values, offsets, first row) of the row group holding the current row; cached."""
        shard = self.pos.shard
        if shard != self._file_shard:
            if self._file is not None:
                self._file.close()
            self._file, self._file_shard = pq.ParquetFile(self.paths[shard]), shard
            meta = self._file.metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            self._group_starts = np.cumsum([0, *sizes])
        group = int(np.searchsorted(self._group_starts, self.pos.row, side="right")) - 1
        if self._group_key != (shard, group):
            column = self._file.read_row_group(group, columns=["input_ids"]).column(0).combine_chunks()
            # offsets index column.values directly (a sliced list array does not start at 0)
            self._values = column.values.to_numpy(zero_copy_only=False)
            self._offsets = column.offsets.to_numpy().astype(np.int64)
            self._group_key = (shard, group)
        return self._values, self._offsets, int(self._group_starts[group])

    def take(self, n: int) -> np.ndarray:
        """The next n tokens of the stream (crossing documents, shards and epochs), advancing the position."""
        parts = []
        while n > 0:
            values, offsets, first = self._group()
            local = self.pos.row - first
            start = int(offsets[local]) + self.pos.offset
            stop = int(offsets[-1])
            if start > int(offsets[local + 1]) or start > stop:
                raise DataError(f"{self.folder}: offset {self.pos.offset} past the end of row {self.pos.row}")
            end = min(stop, start + n)
            parts.append(values[start:end])
            n -= end - start
            if end == stop:  # row group used up
                self.pos.row, self.pos.offset = first + len(offsets) - 1, 0
                self._normalize()
            else:
                local = int(np.searchsorted(offsets, end, side="right")) - 1
                self.pos.row, self.pos.offset = first + local, end - int(offsets[local])
        return np.concatenate(parts).astype(np.int64)


class MixtureReader:
    """Endless packed batches from weighted corpora.

    corpora: (shard folder, weight) pairs; weights are relative (56/4/10/20/10 works as is). Every folder
    must hold the same tokenizer (sha256 of tokenizer.json, from the manifest and each shard's metadata),
    and that of `tokenizer_sha256` when given. `state` resumes where a previous reader's `state()` was.
    """

    def __init__(self, corpora: Sequence[tuple[str, float]], seq_len: int, batch_size: int, seed: int = 0,
                 state: DataState | None = None, tokenizer_sha256: str | None = None):
        if not corpora:
            raise DataError("no corpora")
        if seq_len < 1 or batch_size < 1:
            raise DataError(f"seq_len {seq_len}, batch_size {batch_size}: must be positive")
        weights = np.array([float(w) for _, w in corpora])
        if not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
            raise DataError(f"mixture weights {weights.tolist()}: need non-negative, not all zero")
        state = state or DataState(0, [CorpusPosition() for _ in corpora])
        if len(state.positions) != len(corpora):
            raise DataError(f"data state has {len(state.positions)} corpora, the mixture {len(corpora)}")
        self.seq_len, self.batch_size, self.seed = seq_len, batch_size, seed
        self.batches = state.batches
        self._cumulative = np.cumsum(weights / weights.sum())
        self._streams = [_Stream(str(folder), position)
                         for (folder, _), position in zip(corpora, state.positions, strict=True)]
        self.tokenizer = self._streams[0].tokenizer
        expected = tokenizer_sha256 or self.tokenizer.get("sha256")
        for stream in self._streams:
            sha = stream.tokenizer.get("sha256")
            if sha != expected:
                whose = "the model's tokenizer" if tokenizer_sha256 else f"{self._streams[0].folder}'s"
                raise DataError(f"{stream.folder}: tokenizer sha256 {sha} differs from {whose} {expected}")

    def choices(self, batch: int) -> np.ndarray:
        """Corpus index of each sequence of batch number `batch`: a pure function of (seed, batch)."""
        uniform = np.random.default_rng([self.seed, batch]).random(self.batch_size)
        # side="right" so a zero-weight corpus (an empty interval) is never chosen
        return np.minimum(np.searchsorted(self._cumulative, uniform, side="right"), len(self._streams) - 1)

    def next_batch(self) -> Batch:
        corpus = self.choices(self.batches)
        tokens = np.stack([self._streams[c].take(self.seq_len + 1) for c in corpus])
        self.batches += 1
        return Batch(tokens, corpus.astype(np.int64))

    def state(self) -> DataState:
        """A copy of the current position: save it with the checkpoint."""
        return DataState(self.batches, [CorpusPosition(**asdict(s.pos)) for s in self._streams])

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        return self.next_batch()
