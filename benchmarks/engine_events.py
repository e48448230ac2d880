"""Engine event throughput with its durable SQLite log: per event against raw SQLite inserts
of the same rows, and per batch against the engine in memory, in the same run.

A seeded generator builds a realistic aave-v3 event stream (borrowers depositing WETH and
borrowing USDC or DAI, repaying, topping up and withdrawing; a mean-reverting WETH price with
occasional crashes; time passing; keepers liquidating whoever a crash made liquidatable).
The stream is generated once against an engine of its own (untimed); the timed runs apply
that same list of events to fresh engines:

1. ``engine, in memory``: ``Engine(config)``, no log (the rules alone), and the same with
   ``check_invariants=False``;
2. ``engine + log, per event``: ``Engine.with_log(config, path)``: every event committed
   (``synchronous=FULL``, WAL) before ``apply`` returns, plus the chain digest, the ack-file
   write, a checkpoint every 1,000 events and the close; on the first ``--durable-events``
   events of the stream (a commit per event is bound by the disk's flush, not the engine);
3. ``raw SQLite inserts``: the rows of the log from (2), read back, inserted into a fresh
   WAL database with the same schema, one commit per row, the same ``synchronous``, plus the
   closing checkpoint: what SQLite alone does with the same rows and the same durability;
4. ``engine + log, per batch``: ``Engine.with_log(config, path, durability="batch")``, with
   ``engine.commit()`` every ``--batch`` events (a simulator step or a service tick);
5. ``replay``: ``Engine.replay`` of the log from (4), verifying every record and outcome.

The two sides of each ratio run *paired*: chunk by chunk, alternately (the order swapped
every chunk), so both see the same load on a shared machine; the pair is repeated
``--repeat`` times and the best of each side kept. It prints the rates and the two
ratios with their targets: per event / raw inserts (at least 0.2) and per batch / in memory
(at least 0.8), and the latter in CPU time (``process_time``: the log's own work, without
the waits for the disk and for a core, which a loaded machine lengthens).

Usage::

    python benchmarks/engine_events.py [--events 20000] [--durable-events 2000]
                                       [--batch 1000] [--repeat 3] [--synchronous FULL]
                                       [--out DIR] [--json PATH] [--seed 7] [--borrowers 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Event,
    Liquidate,
    Repay,
    SetPrice,
    Withdraw,
)

USD = 10**8
WETH = 10**18
USDC = 10**6
DAI = 10**18
UNITS = {"WETH": WETH, "USDC": USDC, "DAI": DAI}
BASE_WETH_PRICE = 2_000 * USD


def protocol() -> ProtocolConfig:
    return protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}, "DAI": {}}})


def generate(config: ProtocolConfig, count: int, rng: random.Random,
             borrowers: int = 100) -> list[Event]:
    """A deterministic, realistic stream of ``count`` events (some of them refused)."""
    engine = Engine(config, check_invariants=False)
    events: list[Event] = []

    def emit(event: Event) -> None:
        engine.apply(event)
        events.append(event)

    emit(SetPrice("WETH", BASE_WETH_PRICE))
    emit(SetPrice("USDC", USD))
    emit(SetPrice("DAI", USD))
    emit(Deposit("lp", "USDC", 50_000_000 * USDC))
    emit(Deposit("lp", "DAI", 50_000_000 * DAI))
    emit(Deposit("lp", "WETH", 20_000 * WETH))
    names = [f"user{i:04d}" for i in range(borrowers)]
    weth_price = BASE_WETH_PRICE
    while len(events) < count:
        roll = rng.random()
        who = rng.choice(names)
        stable = rng.choice(("USDC", "DAI"))
        if roll < 0.22:  # deposit collateral (new borrower or top-up)
            emit(Deposit(who, "WETH", rng.randint(WETH // 10, 50 * WETH)))
        elif roll < 0.40:  # borrow 20-95% of what is available; sometimes too much
            power = engine.account_data(who).available_borrows
            share = rng.uniform(0.2, 0.95) if rng.random() < 0.9 else rng.uniform(1.0, 1.3)
            amount = int(power * share) * UNITS[stable] // USD
            emit(Borrow(who, stable, max(amount, UNITS[stable])))
        elif roll < 0.55:  # repay part or all of a debt
            debt = engine.ledger.debt_of(who, stable)
            amount = debt if rng.random() < 0.3 else int(debt * rng.uniform(0.05, 0.6))
            emit(Repay(who, stable, max(amount, 1)))
        elif roll < 0.63:  # withdraw some collateral (refused if it would be unsafe)
            supplied = engine.ledger.supply_of(who, "WETH")
            emit(Withdraw(who, "WETH", max(int(supplied * rng.uniform(0.05, 0.5)), 1)))
        elif roll < 0.80:  # price tick: mean-reverting walk, 1% chance of a 10-25% crash
            if rng.random() < 0.01:
                weth_price = int(weth_price * rng.uniform(0.75, 0.90))
            else:
                drift = 0.02 * (BASE_WETH_PRICE - weth_price) / BASE_WETH_PRICE
                weth_price = int(weth_price * (1 + drift + rng.gauss(0, 0.004)))
            emit(SetPrice("WETH", weth_price))
            if rng.random() < 0.2:
                emit(SetPrice(stable, USD + rng.randint(-20_000, 20_000)))
        elif roll < 0.95:  # blocks pass
            emit(AdvanceTime(rng.choice((12, 12, 60, 600, 3_600))))
        else:  # keepers liquidate what is liquidatable (or try a healthy account)
            targets = [a for a in names
                       if a in engine.ledger.accounts and engine.is_liquidatable(a)]
            if not targets:
                emit(Liquidate("keeper", who, stable, "WETH", UNITS[stable]))
            for target in targets[:5]:
                quote = engine.liquidation_quote(target)
                if quote.plan is not None:
                    emit(Liquidate("keeper", target, quote.debt_asset, quote.collateral_asset,
                                   quote.debt_to_cover, rng.random() < 0.3))
    return events[:count]


def timed_apply(engine: Engine, events: list[Event]) -> tuple[float, Counter[str]]:
    """Apply ``events``, then close."""
    outcomes: Counter[str] = Counter()
    start = time.perf_counter()
    for event in events:
        outcomes[engine.apply(event).name] += 1
    engine.close()
    return time.perf_counter() - start, outcomes


def paired_memory_batch(config: ProtocolConfig, events: list[Event], path: Path, batch: int,
                        synchronous: str) -> tuple[float, float, Engine, Engine, float, float]:
    """In-memory and per-batch engines timed chunk by chunk, alternately (a batch each, the
    order swapped every chunk), so both see the same load on a shared machine. Returns the
    wall seconds of each, the engines, and the CPU seconds of each (``process_time``: the
    work itself, without the waits for the disk and for a core)."""
    memory = Engine(config)
    batched = Engine.with_log(config, path, synchronous=synchronous, durability="batch")
    memory_s = batch_s = memory_cpu = batch_cpu = 0.0
    cpu = time.process_time
    for k, i in enumerate(range(0, len(events), batch)):
        chunk = events[i:i + batch]
        for which in ((0, 1) if k % 2 == 0 else (1, 0)):
            start, start_cpu = time.perf_counter(), cpu()
            if which == 0:
                for event in chunk:
                    memory.apply(event)
                memory_s += time.perf_counter() - start
                memory_cpu += cpu() - start_cpu
            else:
                for event in chunk:
                    batched.apply(event)
                batched.commit()
                batch_s += time.perf_counter() - start
                batch_cpu += cpu() - start_cpu
    start, start_cpu = time.perf_counter(), cpu()
    batched.close()
    batch_s += time.perf_counter() - start
    batch_cpu += cpu() - start_cpu
    return memory_s, batch_s, memory, batched, memory_cpu, batch_cpu


def paired_event_raw(config: ProtocolConfig, events: list[Event], log_path: Path,
                     raw_path: Path, rows: list[tuple[object, ...]], schema: list[str],
                     synchronous: str, chunk: int = 100) -> tuple[float, float, Engine]:
    """The per-event log and raw inserts of the same rows (same schema, commit per row, same
    ``synchronous``, closing checkpoint), timed chunk by chunk, alternately."""
    logged = Engine.with_log(config, log_path, synchronous=synchronous)
    db = sqlite3.connect(raw_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    for sql in schema:
        db.execute(sql)
    logged_s = raw_s = 0.0
    for k, i in enumerate(range(0, len(events), chunk)):
        for which in ((0, 1) if k % 2 == 0 else (1, 0)):
            start = time.perf_counter()
            if which == 0:
                for event in events[i:i + chunk]:
                    logged.apply(event)
                logged_s += time.perf_counter() - start
            else:
                for row in rows[i:i + chunk]:
                    db.execute("INSERT INTO events(seq, outcome, accepted, payload, checksum) "
                               "VALUES (?, ?, ?, ?, ?)", row)
                raw_s += time.perf_counter() - start
    start = time.perf_counter()
    logged.close()
    logged_s += time.perf_counter() - start
    start = time.perf_counter()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw_s += time.perf_counter() - start
    return logged_s, raw_s, logged


def log_rows(config: ProtocolConfig, events: list[Event], path: Path
             ) -> tuple[list[tuple[object, ...]], list[str]]:
    """The rows (and table schema) the log of ``events`` holds (written untimed, no sync)."""
    engine = Engine.with_log(config, path, synchronous="OFF")
    engine.apply_all(events)
    engine.close()
    with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as source:
        schema = [sql for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = source.execute(
            "SELECT seq, outcome, accepted, payload, checksum FROM events ORDER BY seq"
        ).fetchall()
    return rows, schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the stream")
    parser.add_argument("--durable-events", type=int, default=2_000,
                        help="events of the stream in the per-event and raw-insert runs")
    parser.add_argument("--batch", type=int, default=1_000,
                        help="events per commit in the per-batch run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions of the paired runs (best of each side kept)")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                        help="SQLite synchronous setting, for the log and the raw inserts alike")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for the SQLite files (default: a new temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--seed", type=int, default=7, help="seed of the event generator")
    parser.add_argument("--borrowers", type=int, default=100, help="borrowing accounts")
    args = parser.parse_args(argv)
    if args.events < 10:
        parser.error("--events must be at least 10")
    if args.borrowers < 1:
        parser.error("--borrowers must be at least 1")
    if args.batch < 1 or args.repeat < 1 or args.durable_events < 10:
        parser.error("--batch and --repeat must be at least 1, --durable-events at least 10")
    out = args.out or Path(tempfile.mkdtemp(prefix="engine_events-"))
    out.mkdir(parents=True, exist_ok=True)
    rounds = [(out / f"engine_batch_log{i}.sqlite", out / f"engine_log{i}.sqlite",
               out / f"raw_inserts{i}.sqlite") for i in range(args.repeat)]
    rows_path = out / "rows.sqlite"
    for path in (rows_path, *(p for paths in rounds for p in paths)):
        if path.exists():
            parser.error(f"{path} exists; choose an empty --out directory")

    config = protocol()
    start = time.perf_counter()
    events = generate(config, args.events, random.Random(args.seed), args.borrowers)
    generated_in = time.perf_counter() - start
    n = len(events)
    durable = events[:args.durable_events]
    d = len(durable)
    rows, schema = log_rows(config, durable, rows_path)
    outcomes: Counter[str] = Counter(o.name for o in Engine(config).apply_all(events))

    memory_s = unchecked_s = batch_s = logged_s = raw_s = float("inf")
    memory_cpu = batch_cpu = float("inf")
    memory = batched = logged = Engine(config)
    for batch_path, log_path, raw_path in rounds:  # the best of each is kept
        seconds, memory_outcomes = timed_apply(Engine(config, check_invariants=False), events)
        unchecked_s = min(unchecked_s, seconds)
        assert memory_outcomes == outcomes
        mem_seconds, seconds, memory, batched, mem_cpu, cpu_seconds = paired_memory_batch(
            config, events, batch_path, args.batch, args.synchronous)
        memory_s, batch_s = min(memory_s, mem_seconds), min(batch_s, seconds)
        memory_cpu, batch_cpu = min(memory_cpu, mem_cpu), min(batch_cpu, cpu_seconds)
        seconds, raw_seconds, logged = paired_event_raw(
            config, durable, log_path, raw_path, rows, schema, args.synchronous)
        logged_s, raw_s = min(logged_s, seconds), min(raw_s, raw_seconds)
    start = time.perf_counter()
    _, report = Engine.replay(rounds[-1][0])
    replay_s = time.perf_counter() - start
    assert report.events == n and report.state_hash == batched.state_hash() == memory.state_hash()
    _, durable_report = Engine.replay(rounds[-1][1])
    assert durable_report.events == d and durable_report.state_hash == logged.state_hash()
    with closing(sqlite3.connect(f"file:{rounds[-1][2]}?mode=ro&immutable=1", uri=True)) as db:
        assert db.execute("SELECT * FROM events ORDER BY seq").fetchall() == rows

    rates = {
        "engine_in_memory": n / memory_s,
        "engine_in_memory_unchecked": n / unchecked_s,
        "engine_log_per_event": d / logged_s,
        "raw_sqlite_inserts": d / raw_s,
        "engine_log_per_batch": n / batch_s,
        "replay_verified": n / replay_s,
    }
    per_event = rates["engine_log_per_event"] / rates["raw_sqlite_inserts"]
    per_batch = rates["engine_log_per_batch"] / rates["engine_in_memory"]
    accepted = sum(v for k, v in outcomes.items() if not k.endswith("Rejected"))
    print(f"{n} events, {args.borrowers} borrowers (seed {args.seed}; generated in "
          f"{generated_in:.1f} s): "
          f"{accepted} accepted, {n - accepted} refused, "
          f"{outcomes['LiquidationExecuted']} liquidations")
    print(f"SQLite {sqlite3.sqlite_version}, WAL, synchronous={args.synchronous} for the logs "
          f"and the raw inserts; per batch: a commit every {args.batch} events; paired runs, "
          f"best of {args.repeat}; per event and raw: the first {d} events; files in {out}")
    print()
    print(f"{'run':<28}{'events':>8}{'seconds':>10}{'events/s':>12}")
    runs = (("engine, in memory", n, memory_s), ("  same, no invariant check", n, unchecked_s),
            ("engine + log, per event", d, logged_s), ("raw SQLite inserts", d, raw_s),
            ("engine + log, per batch", n, batch_s), ("replay (verified)", n, replay_s))
    for label, count, seconds in runs:
        print(f"{label:<28}{count:>8}{seconds:>10.2f}{count / seconds:>12,.0f}")
    print()
    print(f"per event / raw inserts = {per_event:.2f} (target >= 0.2: "
          f"{'met' if per_event >= 0.2 else 'MISSED'})")
    print(f"per batch / in memory   = {per_batch:.2f} (target >= 0.8: "
          f"{'met' if per_batch >= 0.8 else 'MISSED'})")
    per_batch_cpu = memory_cpu / batch_cpu
    print(f"  the same in CPU time    = {per_batch_cpu:.2f} (the log's own work, without "
          f"the waits for the disk's flush and for a core; load average "
          f"{os.getloadavg()[0]:.1f})")
    if args.json:
        args.json.write_text(json.dumps({
            "events": n,
            "durable_events": d,
            "repeat": args.repeat,
            "seed": args.seed,
            "batch": args.batch,
            "synchronous": args.synchronous,
            "outcomes": dict(sorted(outcomes.items())),
            "borrowers": args.borrowers,
            "seconds": {"engine_in_memory": memory_s,
                        "engine_in_memory_unchecked": unchecked_s,
                        "engine_log_per_event": logged_s,
                        "raw_sqlite_inserts": raw_s,
                        "engine_log_per_batch": batch_s,
                        "replay_verified": replay_s},
            "events_per_second": rates,
            "ratio_per_event_to_raw": per_event,
            "ratio_per_batch_to_memory": per_batch,
            "ratio_per_batch_to_memory_cpu": per_batch_cpu,
            "cpu_seconds": {"engine_in_memory": memory_cpu, "engine_log_per_batch": batch_cpu},
            "load_average": os.getloadavg()[0],
            "sqlite_version": sqlite3.sqlite_version,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
