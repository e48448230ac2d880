"""Reading a lending book and building its engine: the round trip through the snapshot
format (old) against the book's integers straight into the builder (new), paired.

    python benchmarks/book_read.py [--accounts 100000] [--assets 16] \\
        [--positions-per-account 2] [--seed 1] [--repeats 3] [--json PATH]

A seeded synthetic book (``marginengine.scan.synthetic``; the defaults give 199,677 rows)
is written to CSV with its prices and protocol, then read and built two ways, timed
alternately in the same process (the machine's load falls on both; median of
``--repeats`` each, after one warm-up of each):

- old: ``scan.files.read_book``, then every amount and price formatted back to decimal
  text in a snapshot dict (the protocol dumped to JSON) and built by
  ``engine.snapshot.engine_from_snapshot``, which parses and checks it all again (what
  ``scan.files.engine_from_book`` did before);
- new: ``scan.files.read_book``, then ``scan.files.engine_from_book``, which hands the
  book's integers to the builder both paths share.

Each figure is split into the read (the same on both sides) and the build, in CPU
seconds of this process (``time.process_time``: other processes on a shared machine
take cores, not this figure) and in wall seconds. The two engines' state hashes must be
equal: the run fails if they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig
from marginengine.engine import Engine
from marginengine.engine.snapshot import engine_from_snapshot
from marginengine.fixedpoint import PRICE_DECIMALS, format_units
from marginengine.ledger.book_file import Book
from marginengine.scan.files import engine_from_book, read_book, read_prices, read_protocol
from marginengine.scan.synthetic import generate_book


def round_trip(config: ProtocolConfig, prices: dict[str, int], book: Book) -> Engine:
    """The old path: the book as a snapshot dict of decimal text, built by the snapshot
    builder (as ``engine_from_book`` did before it took the integers)."""
    markets = config.markets

    def whole(amounts: dict[str, int]) -> dict[str, str]:
        return {a: format_units(v, markets[a].decimals) for a, v in amounts.items()}

    snapshot = {
        "protocol": config.model_dump(mode="json"),
        "prices": {a: format_units(p, PRICE_DECIMALS) for a, p in prices.items()},
        "accounts": [{"id": a.id, "supplied": whole(a.supplied), "borrowed": whole(a.borrowed),
                      **({"emode": a.emode} if a.emode else {})}
                     for a in book.accounts],
    }
    return engine_from_snapshot(snapshot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--assets", type=int, default=16)
    parser.add_argument("--positions-per-account", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    synthetic = generate_book(args.accounts, args.assets, args.positions_per_account,
                              seed=args.seed)
    timings: dict[str, dict[str, list[float]]] = {
        side: {"read": [], "build": [], "read_wall": [], "build_wall": []}
        for side in ("old", "new")}
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        book_path, prices_path = Path(tmp) / "book.csv", Path(tmp) / "prices.toml"
        protocol_path = Path(tmp) / "protocol.toml"
        synthetic.write_csv(book_path)
        synthetic.write_prices(prices_path)
        synthetic.write_protocol(protocol_path)
        config = read_protocol(protocol_path)
        prices = read_prices(prices_path, config)
        builds: dict[str, Callable[[Book], Engine]] = {
            "old": lambda book: round_trip(config, prices, book),
            "new": lambda book: engine_from_book(config, prices, book),
        }

        def run(side: str, record: bool) -> None:
            start, start_wall = time.process_time(), time.perf_counter()
            book = read_book(book_path, config)
            read, read_wall = time.process_time(), time.perf_counter()
            engine = builds[side](book)
            built, built_wall = time.process_time(), time.perf_counter()
            hashes[side] = engine.state_hash()
            if record:
                timings[side]["read"].append(read - start)
                timings[side]["build"].append(built - read)
                timings[side]["read_wall"].append(read_wall - start_wall)
                timings[side]["build_wall"].append(built_wall - read_wall)

        rows = sum(1 for _ in book_path.open()) - 1
        for side in ("old", "new"):
            run(side, record=False)
        for _ in range(args.repeats):
            for side in ("old", "new"):
                run(side, record=True)
    if hashes["old"] != hashes["new"]:
        sys.exit(f"the two engines differ: state hash {hashes['old']} (old) against "
                 f"{hashes['new']} (new)")

    def median(side: str, part: str) -> float:
        return statistics.median(timings[side][part])

    figures: dict[str, Any] = {
        "rows": rows, "accounts": args.accounts, "assets": args.assets,
        "repeats": args.repeats, "state_hash": hashes["new"],
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_end": os.getloadavg(),
    }
    for clock in ("", "_wall"):
        for side in ("old", "new"):
            figures[f"{side}_read{clock}_s"] = median(side, f"read{clock}")
            figures[f"{side}_build{clock}_s"] = median(side, f"build{clock}")
            figures[f"{side}_total{clock}_s"] = statistics.median(
                r + b for r, b in zip(timings[side][f"read{clock}"],
                                      timings[side][f"build{clock}"], strict=True))
        for part in ("build", "total"):
            figures[f"{part}{clock}_new_over_old"] = (figures[f"new_{part}{clock}_s"]
                                                      / figures[f"old_{part}{clock}_s"])
    print(f"book of {rows:,} rows ({args.accounts:,} accounts, {args.assets} assets), "
          f"median of {args.repeats} paired runs")
    for clock, name in (("", "CPU"), ("_wall", "wall")):
        for side in ("old", "new"):
            print(f"  {side} ({name}): read {figures[f'{side}_read{clock}_s']:.3f} s + build "
                  f"{figures[f'{side}_build{clock}_s']:.3f} s = "
                  f"{figures[f'{side}_total{clock}_s']:.3f} s")
        print(f"  new / old ({name}): build {figures[f'build{clock}_new_over_old']:.3f}, "
              f"total {figures[f'total{clock}_new_over_old']:.3f}")
    print(f"  same state hash {hashes['new'][:16]}...")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
