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
import loro

from common import trace_benchmark


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


def load_into_fresh(encoded):
    doc = loro.LoroDoc()
    doc.import_(encoded)
    return doc.get_text("text").to_string()


if __name__ == "__main__":
    trace_benchmark(
        "loro", "1.17.1", replay, text_of=lambda text: text.to_string(),
        forms=[("updates", lambda doc: doc.export(loro.ExportMode.Updates(loro.VersionVector())), load_into_fresh),
               ("snapshot", lambda doc: doc.export(loro.ExportMode.Snapshot()), load_into_fresh)])
