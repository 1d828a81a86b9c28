#!/usr/bin/env python3
"""Replay an editing trace into Yrs through pycrdt (pinned 0.14.13), the way `duet-bench trace`
replays it into Duet and `loro_trace.py` into Loro.

change-per-op: every patch in its own transaction (a live editor's worst case).
one-change: all patches in one transaction.
Reports thread CPU time and wall time (medians of fresh runs), the encoded full history (a Yrs
v1 update from the empty state), the time to apply it to a fresh document, and the Python call
overhead: the same number of calls into a no-op Python function, which the figures include.
Prints one JSON object.
"""
import argparse, json, statistics, time

import pycrdt

from common import call_overhead_ms, load, report


def apply_patches(text, patches):
    for pos, deleted, inserted in patches:
        if deleted:
            del text[pos:pos + deleted]
        if inserted:
            text.insert(pos, inserted)


def replay(trace, mode):
    doc = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    if mode == "one-change":
        with doc.transaction():
            for txn in trace["txns"]:
                apply_patches(text, txn["patches"])
    else:
        transaction = doc.transaction
        for txn in trace["txns"]:
            for patch in txn["patches"]:
                with transaction():
                    apply_patches(text, [patch])
    return doc, text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--mode", default="change-per-op", choices=["change-per-op", "one-change"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    # pycrdt counts text positions in UTF-8 bytes, the traces in Unicode scalars; converting
    # would need the document text at every step. Non-ASCII traces are replayed from their
    # ascii_ variants instead (benchmarks/run picks them).
    if not trace["endContent"].isascii() or any(not inserted.isascii() for txn in trace["txns"] for _, _, inserted in txn["patches"]):
        print(json.dumps({"peer": "yrs", "mode": args.mode, "skipped": "non-ASCII trace: pycrdt positions are UTF-8 bytes"}))
        return
    cpu, wall, imports = [], [], []
    matched = True
    encoded = b""
    for _ in range(args.runs):
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        doc, text = replay(trace, args.mode)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
        matched = matched and str(text) == trace["endContent"]
        encoded = doc.get_update()
        start = time.perf_counter()
        fresh = pycrdt.Doc()
        fresh.apply_update(encoded)
        imported = str(fresh.get("text", type=pycrdt.Text))
        imports.append((time.perf_counter() - start) * 1000)
        matched = matched and imported == trace["endContent"]
    overhead = call_overhead_ms(trace, args.mode, per_op_context=True)
    report({
        "peer": "yrs", "version": "pycrdt 0.14.13", "mode": args.mode,
        "cpuMilliseconds": statistics.median(cpu), "wallMilliseconds": statistics.median(wall),
        "cpuMin": min(cpu), "cpuMax": max(cpu),
        "encodedBytes": len(encoded), "importMilliseconds": statistics.median(imports),
        "pythonCallOverheadMilliseconds": overhead, "contentMatched": matched,
    }, matched)


if __name__ == "__main__":
    main()
