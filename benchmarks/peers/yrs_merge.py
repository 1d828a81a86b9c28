#!/usr/bin/env python3
"""The merge benchmark of `duet-bench merge` in Yrs through pycrdt (pinned 0.14.13): two
documents each replay half of a trace's patches from empty (A the first half, B the second;
positions clamped to the document's own text; one transaction each), then each applies the
other's update. Reports the CPU time of the two applications (medians of fresh runs) as one JSON
object. pycrdt counts positions in UTF-8 bytes: ASCII traces only."""
import argparse, statistics, time

import pycrdt

from common import load, patches as all_patches, report


def replica(patches, client_id):
    doc = pycrdt.Doc(client_id=client_id)
    text = doc.get("text", type=pycrdt.Text)
    with doc.transaction():
        for pos, deleted, inserted in patches:
            length = len(text)
            pos = min(pos, length)
            deleted = min(deleted, length - pos)
            if deleted:
                del text[pos:pos + deleted]
            if inserted:
                text.insert(pos, inserted)
    return doc


def fresh(update):
    doc = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text)
    doc.apply_update(update)
    return doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trace = load(args.path)
    patches = all_patches(trace)
    if not all(inserted.isascii() for _, _, inserted in patches):
        report({"peer": "yrs", "skipped": "non-ASCII trace: pycrdt positions are UTF-8 bytes"}, True)
    half = len(patches) // 2
    a, b = replica(patches[:half], 1), replica(patches[half:], 2)
    update_a, update_b = a.get_update(), b.get_update()
    times, converged = [], True
    for _ in range(args.runs):
        doc_a, doc_b = fresh(update_a), fresh(update_b)
        start = time.thread_time()
        doc_a.apply_update(update_b)
        doc_b.apply_update(update_a)
        times.append((time.thread_time() - start) * 1000)
        converged = converged and str(doc_a.get("text", type=pycrdt.Text)) == str(doc_b.get("text", type=pycrdt.Text))
    report({"peer": "yrs", "version": "pycrdt 0.14.13", "opsA": half, "opsB": len(patches) - half,
            "mergeMilliseconds": statistics.median(times), "mergeMin": min(times), "mergeMax": max(times),
            "converged": converged}, converged)


if __name__ == "__main__":
    main()
