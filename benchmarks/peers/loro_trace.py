#!/usr/bin/env python3
"""Replay an editing trace into Loro (pinned 1.17.1), the way `duet-bench trace` replays it into Duet.

change-per-op: every patch is applied and committed on its own (a live editor's worst case).
one-change: all patches, then one commit.
Reports thread CPU time and wall time (medians of fresh runs), the encoded full history
(Loro updates from the empty version vector) and the time to import it, the same for a Loro
snapshot, and the Python call overhead: the same number of calls into a no-op Python function,
which the figures include.
Prints one JSON object.
"""
import argparse, statistics, time

import loro

from common import call_overhead_ms, load, report


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--mode", default="change-per-op", choices=["change-per-op", "one-change"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    cpu, wall, imports, snapshot_loads = [], [], [], []
    matched = True
    encoded = b""
    for _ in range(args.runs):
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        doc, text = replay(trace, args.mode)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
        matched = matched and text.to_string() == trace["endContent"]
        # Both of Loro's forms: updates from the empty version, and a snapshot (state and
        # history together); each loaded into a fresh document.
        encoded = doc.export(loro.ExportMode.Updates(loro.VersionVector()))
        snapshot = doc.export(loro.ExportMode.Snapshot())
        for form, times in ((encoded, imports), (snapshot, snapshot_loads)):
            start = time.perf_counter()
            fresh = loro.LoroDoc()
            fresh.import_(form)
            loaded = fresh.get_text("text").to_string()
            times.append((time.perf_counter() - start) * 1000)
            matched = matched and loaded == trace["endContent"]
    overhead = call_overhead_ms(trace, args.mode)
    report({
        "peer": "loro", "version": "1.17.1", "mode": args.mode,
        "cpuMilliseconds": statistics.median(cpu), "wallMilliseconds": statistics.median(wall),
        "cpuMin": min(cpu), "cpuMax": max(cpu),
        "encodedBytes": len(encoded), "importMilliseconds": statistics.median(imports),
        "snapshotBytes": len(snapshot), "snapshotImportMilliseconds": statistics.median(snapshot_loads),
        "pythonCallOverheadMilliseconds": overhead, "contentMatched": matched,
    }, matched)


if __name__ == "__main__":
    main()
