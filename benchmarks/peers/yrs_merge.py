#!/usr/bin/env python3
"""The merge benchmark of `duet-bench merge` in Yrs through pycrdt (pinned 0.14.13): two
documents each replay half of a trace's patches from empty (A the first half, B the second;
positions clamped to the document's own text; one transaction each), then each applies the
other's update. Reports the CPU time of the two applications (medians of fresh runs) as one JSON
object. pycrdt counts positions in UTF-8 bytes: ASCII traces only."""
import pycrdt

from common import clamp, merge_benchmark


def replica(patches, client_id):
    doc = pycrdt.Doc(client_id=client_id)
    text = doc.get("text", type=pycrdt.Text)
    with doc.transaction():
        for pos, deleted, inserted in patches:
            pos, deleted = clamp(pos, deleted, len(text))
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


if __name__ == "__main__":
    merge_benchmark(
        "yrs", "pycrdt 0.14.13", replica, export=lambda doc: doc.get_update(),
        load_update=fresh, apply_update=lambda doc, update: doc.apply_update(update),
        text_of=lambda doc: str(doc.get("text", type=pycrdt.Text)), ascii_only=True)
