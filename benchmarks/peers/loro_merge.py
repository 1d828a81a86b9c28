#!/usr/bin/env python3
"""The merge benchmark of `duet-bench merge` in Loro (pinned 1.17.1): two documents each replay
half of a trace's patches from empty (A the first half, B the second; positions clamped to the
document's own text; one commit each), then each imports the other's updates. Reports the CPU
time of the two imports (medians of fresh runs) as one JSON object."""
import loro

from common import clamp, merge_benchmark


def replica(patches, peer):
    doc = loro.LoroDoc()
    doc.peer_id = peer
    text = doc.get_text("text")
    for pos, deleted, inserted in patches:
        pos, deleted = clamp(pos, deleted, text.len_unicode)
        if deleted:
            text.delete(pos, deleted)
        if inserted:
            text.insert(pos, inserted)
    doc.commit()
    return doc


def fresh(updates):
    doc = loro.LoroDoc()
    doc.import_(updates)
    return doc


if __name__ == "__main__":
    merge_benchmark(
        "loro", "1.17.1", replica,
        export=lambda doc: doc.export(loro.ExportMode.Updates(loro.VersionVector())),
        load_update=fresh, apply_update=lambda doc, updates: doc.import_(updates),
        text_of=lambda doc: doc.get_text("text").to_string())
