#!/usr/bin/env python3
"""The merge benchmark of `duet-bench merge` in Loro (pinned 1.17.1): two documents each replay
half of a trace's patches from empty (A the first half, B the second; positions clamped to the
document's own text; one commit each), then each imports the other's updates. Reports the CPU
time of the two imports (medians of fresh runs) as one JSON object."""
import argparse, statistics, time

import loro

from common import load, patches as all_patches, report


def replica(patches, peer):
    doc = loro.LoroDoc()
    doc.peer_id = peer
    text = doc.get_text("text")
    for pos, deleted, inserted in patches:
        length = text.len_unicode
        pos = min(pos, length)
        deleted = min(deleted, length - pos)
        if deleted:
            text.delete(pos, deleted)
        if inserted:
            text.insert(pos, inserted)
    doc.commit()
    return doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    patches = all_patches(trace)
    half = len(patches) // 2
    a, b = replica(patches[:half], 1), replica(patches[half:], 2)
    updates_a = a.export(loro.ExportMode.Updates(loro.VersionVector()))
    updates_b = b.export(loro.ExportMode.Updates(loro.VersionVector()))
    times, converged = [], True
    for _ in range(args.runs):
        fresh_a, fresh_b = loro.LoroDoc(), loro.LoroDoc()
        fresh_a.import_(updates_a)
        fresh_b.import_(updates_b)
        start = time.thread_time()
        fresh_a.import_(updates_b)
        fresh_b.import_(updates_a)
        times.append((time.thread_time() - start) * 1000)
        converged = converged and fresh_a.get_text("text").to_string() == fresh_b.get_text("text").to_string()
    report({"peer": "loro", "version": "1.17.1", "opsA": half, "opsB": len(patches) - half,
                      "mergeMilliseconds": statistics.median(times), "mergeMin": min(times), "mergeMax": max(times),
            "converged": converged}, converged)


if __name__ == "__main__":
    main()
