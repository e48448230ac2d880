"""Evaluations cached by parameter vector and seeds, so a run can stop and resume.

One row per ``(candidate key, master seed, run index)``; the key is a digest of the scenario
and every variable's value (:meth:`marginengine.optimize.problem.Problem.key`). On disk: a
JSON-lines file whose first line is a header naming the tool, then one line per row,
appended and flushed after every batch. Floats are written as ``repr`` and read back
exactly, so a resumed run gives the same figures bit for bit. A torn last line (a killed
run) is skipped; a file that does not start with the header is refused, never overwritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from marginengine.errors import MarginEngineError

HEADER = {"tool": "marginengine", "kind": "optimize-cache", "version": 1}


class CacheError(MarginEngineError):
    """The cache file cannot be used (the message names it and why)."""


class EvaluationCache:
    """Rows by ``(key, seed, index)``, kept in memory and optionally appended to ``path``."""

    def __init__(self, path: Path | None = None) -> None:
        self.rows: dict[tuple[str, int, int], dict[str, Any]] = {}
        self.path = path
        self.hits = 0
        self.misses = 0
        self._file: TextIO | None = None

    def load(self, path: Path) -> int:
        """Read the rows of a cache file (another run's); return how many."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CacheError(f"cache: cannot read {path}: {exc.strerror or exc}") from None
        if not lines:
            return 0
        try:
            head = json.loads(lines[0])
        except ValueError:
            head = None
        if head != HEADER:
            raise CacheError(f"cache: {path} is not a marginengine optimize cache")
        count = 0
        for line in lines[1:]:
            try:
                item = json.loads(line)
                key = (str(item["key"]), int(item["seed"]), int(item["index"]))
                row = dict(item["row"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line of a killed run
            self.rows[key] = row
            count += 1
        return count

    def get(self, key: str, seed: int, index: int) -> dict[str, Any] | None:
        """The cached row, or ``None``."""
        return self.rows.get((key, seed, index))

    def put(self, key: str, seed: int, index: int, row: dict[str, Any]) -> None:
        """Remember a row (and append it to the file)."""
        self.rows[(key, seed, index)] = row
        if self.path is None:
            return
        if self._file is None:
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            if not fresh:
                self.load(self.path)  # refuses a file that is not ours
            try:
                # A cache named in a folder not made yet ("runs/opt-cache.jsonl" in a
                # fresh checkout, as docs/optimize.md calls it) gets its folder.
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            except OSError as exc:
                raise CacheError(f"cache: cannot write {self.path}: "
                                 f"{exc.strerror or exc}") from None
            if fresh:
                self._file.write(json.dumps(HEADER) + "\n")
        self._file.write(json.dumps({"key": key, "seed": seed, "index": index,
                                     "row": row}) + "\n")

    def save_all(self) -> None:
        """Write every row held (for instance those loaded from a previous run's cache) to
        this cache's own file, which must be new or empty."""
        if self.path is None:
            return
        if self.path.exists() and self.path.stat().st_size > 0:
            raise CacheError(f"cache: {self.path} is not empty")
        self._file = self.path.open("w", encoding="utf-8")
        self._file.write(json.dumps(HEADER) + "\n")
        for (key, seed, index), row in self.rows.items():
            self._file.write(json.dumps({"key": key, "seed": seed, "index": index,
                                         "row": row}) + "\n")
        self._file.flush()

    def flush(self) -> None:
        """Make what was put durable on disk."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
