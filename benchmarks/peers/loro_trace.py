#!/usr/bin/env python3
"""Replay an editing trace into Loro (pinned 1.17.1), the way `duet-bench trace` replays it into Duet.

change-per-op: every patch is applied and committed on its own (a live editor's worst case).
one-change: all patches, then one commit.
Reports thread CPU time and wall time (medians of fresh runs), the encoded full history
(Loro updates from the empty version vector), the time to import it, and the Python call
overhead: the same number of calls into a no-op Python function, which the figures include.
Prints one JSON object.
"""
import argparse, gzip, json, statistics, sys, time

import loro


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def replay(trace, mode):
    doc = loro.LoroDoc()
    text = doc.get_text("text")
    insert, delete, commit = text.insert, text.delete, doc.commit
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            if deleted:
                delete(pos, deleted)
            if inserted:
                insert(pos, inserted)
            if mode == "change-per-op":
                commit()
    commit()
    return doc, text


def noop(*_):
    return None


def call_overhead(trace):
    """Seconds of CPU spent on the same number of Python-level calls, with no CRDT behind them."""
    start = time.thread_time()
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            if deleted:
                noop(pos, deleted)
            if inserted:
                noop(pos, inserted)
            noop()
    return time.thread_time() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--mode", default="change-per-op", choices=["change-per-op", "one-change"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    cpu, wall, imports = [], [], []
    matched = True
    encoded = b""
    for _ in range(args.runs):
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        doc, text = replay(trace, args.mode)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
        matched = matched and text.to_string() == trace["endContent"]
        encoded = doc.export(loro.ExportMode.Updates(loro.VersionVector()))
        start = time.perf_counter()
        fresh = loro.LoroDoc()
        fresh.import_(encoded)
        imported = fresh.get_text("text").to_string()
        imports.append((time.perf_counter() - start) * 1000)
        matched = matched and imported == trace["endContent"]
    overhead = statistics.median(call_overhead(trace) * 1000 for _ in range(3))
    print(json.dumps({
        "peer": "loro", "version": "1.17.1", "mode": args.mode,
        "cpuMilliseconds": statistics.median(cpu), "wallMilliseconds": statistics.median(wall),
        "cpuMin": min(cpu), "cpuMax": max(cpu),
        "encodedBytes": len(encoded), "importMilliseconds": statistics.median(imports),
        "pythonCallOverheadMilliseconds": overhead, "contentMatched": matched,
    }, sort_keys=True))
    sys.exit(0 if matched else 1)


if __name__ == "__main__":
    main()
