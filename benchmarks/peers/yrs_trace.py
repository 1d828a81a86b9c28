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
import pycrdt

from common import trace_benchmark


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


def load_into_fresh(update):
    doc = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get("text", type=pycrdt.Text))


if __name__ == "__main__":
    # pycrdt counts text positions in UTF-8 bytes, the traces in Unicode scalars: ASCII only.
    trace_benchmark("yrs", "pycrdt 0.14.13", replay, text_of=str,
                    forms=[("update", lambda doc: doc.get_update(), load_into_fresh)],
                    per_op_context=True, ascii_only=True)
