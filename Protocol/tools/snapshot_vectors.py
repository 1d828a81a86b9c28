#!/usr/bin/env python3
"""Writes Protocol/vectors/snapshots.json from SPEC §§ 3 and 4 alone: changes encoded as § 3.2
lays them out, a plain model of what applying them does (registers, sets, acknowledgements and
the body as a list of scalars in document order), and that model encoded as § 4 lays out a
snapshot. Independent of the Swift code; the cases avoid concurrent inserts at one place, so the
document order needs no FugueMax: an insert goes right after its left origin, and the test
asserts that its right origin is then the next scalar.
Run: python3 Protocol/tools/snapshot_vectors.py"""
import json
import pathlib
import unicodedata
from wire_encoding import varint   # SPEC § 1, shared by the generators




def string(text):
    raw = text.encode("utf-8")
    return varint(len(raw)) + raw


def hlc(ms, counter=0):
    return ms << 16 | counter


A, B = bytes([0x11]) * 16, bytes([0x33]) * 16
ENTRY = bytes([0x22]) * 16
FACTORS = {"safety": 0, "attunement": 1, "comfort": 2, "delight": 3, "exploration": 4}


# ---- § 3.2: one change -------------------------------------------------------------------------

def encode_change(author, seq, time, deps, ops):
    """ops: tuples ('create',), ('setTitle', text, dots), ('setMood', n, dots), ('setDeleted', flag, dots),
    ('setKind', text, dots), ('setDate', ms | None, dots), ('addFactor', name), ('removeFactor', name, dots),
    ('addTag', text), ('removeTag', text, dots), ('acknowledge',), ('insert', counter, left, right, text),
    ('delete', start, count). A dot or scalar id is (device, number)."""
    named = set(device for device, _ in deps)
    for op in ops:
        for field in op[1:]:
            if isinstance(field, list):
                named.update(device for device, _ in field)
            if isinstance(field, tuple):
                named.add(field[0])
    named.discard(author)
    table = [author] + sorted(named)
    index = {device: i for i, device in enumerate(table)}

    def dots(items):
        items = sorted(set(items))
        return varint(len(items)) + b"".join(varint(index[d]) + varint(s) for d, s in items)

    def ref(item):
        return varint(0) if item is None else varint(index[item[0]] + 1) + varint(item[1])

    out = varint(1) + varint(len(table)) + b"".join(table) + varint(seq) + varint(time)
    deps = sorted(d for d in deps if d[0] != author)
    out += varint(len(deps)) + b"".join(varint(index[d]) + varint(s) for d, s in sorted(deps, key=lambda d: index[d[0]]))
    out += ENTRY + varint(len(ops))
    for op in ops:
        kind = op[0]
        if kind == "create": out += b"\x01"
        elif kind == "setTitle": out += b"\x02" + string(op[1]) + dots(op[2])
        elif kind == "setMood": out += b"\x03" + bytes([op[1] or 0]) + dots(op[2])
        elif kind == "setDeleted": out += b"\x04" + bytes([1 if op[1] else 0]) + dots(op[2])
        elif kind == "setKind": out += b"\x05" + string(op[1]) + dots(op[2])
        elif kind == "setDate": out += b"\x07" + (b"\x00" if op[1] is None else b"\x01" + varint(op[1])) + dots(op[2])
        elif kind == "addFactor": out += b"\x10" + bytes([FACTORS[op[1]]])
        elif kind == "removeFactor": out += b"\x11" + bytes([FACTORS[op[1]]]) + dots(op[2])
        elif kind == "addTag": out += b"\x12" + string(op[1])
        elif kind == "removeTag": out += b"\x13" + string(op[1]) + dots(op[2])
        elif kind == "acknowledge": out += b"\x20"
        elif kind == "insert": out += b"\x30" + varint(op[1]) + ref(op[2]) + ref(op[3]) + string(op[4])
        elif kind == "delete": out += b"\x31" + ref(op[1]) + varint(op[2])
        else: raise ValueError(kind)
    return out


# ---- the model: what applying changes does (§ 3.3) ----------------------------------------------

class Model:
    REGISTERS = ["title", "mood", "deleted", "kind", "replyTo", "date"]

    def __init__(self):
        self.creation = None          # stamp = (hlc, device)
        self.last = None
        self.registers = {name: [] for name in self.REGISTERS}   # (stamp, dot, value, supersedes)
        self.sets = {name: {"additions": {}, "removed": set(), "history": set()} for name in ["factors", "tags"]}
        self.acks = set()
        self.typed = {}               # device → list of scalars (one Python character is one scalar)
        self.document = []            # dicts: device, counter, left, right, deleted

    def apply(self, author, seq, time, ops):
        stamp, dot = (time, author), (author, seq)
        for op in ops:
            kind = op[0]
            if kind == "create":
                if self.creation is None or stamp < self.creation: self.creation = stamp
            elif kind in ("setTitle", "setMood", "setDeleted", "setKind", "setDate"):
                name = {"setTitle": "title", "setMood": "mood", "setDeleted": "deleted", "setKind": "kind", "setDate": "date"}[kind]
                self.registers[name].append((stamp, dot, op[1], sorted(set(op[2]))))
            elif kind in ("addFactor", "addTag"):
                target = self.sets["factors" if kind == "addFactor" else "tags"]
                element = FACTORS[op[1]] if kind == "addFactor" else op[1]
                # Canonically equivalent tags are one element, spelled as the smallest in UTF-8.
                key = element if kind == "addFactor" else unicodedata.normalize("NFC", element)
                spelling, dots = target["additions"].get(key, (element, set()))
                if kind == "addTag" and element.encode() < spelling.encode(): spelling = element
                target["additions"][key] = (spelling, dots | {dot})
                target["history"].add((stamp, element, 1))
            elif kind in ("removeFactor", "removeTag"):
                target = self.sets["factors" if kind == "removeFactor" else "tags"]
                element = FACTORS[op[1]] if kind == "removeFactor" else op[1]
                target["removed"].update(op[2])
                target["history"].add((stamp, element, 0))
            elif kind == "acknowledge":
                self.acks.add(stamp)
            elif kind == "insert":
                _, counter, left, right, text = op
                scalars = self.typed.setdefault(author, [])
                assert counter == len(scalars), "an insert carries the author's next counter in this entry"
                position = 0 if left is None else self.position(left) + 1
                # Not concurrent with anything at this place: the right origin is what follows.
                following = self.document[position] if position < len(self.document) else None
                assert (None if following is None else (following["device"], following["counter"])) == right
                for k, scalar in enumerate(text):
                    item = {"device": author, "counter": counter + k, "left": left if k == 0 else (author, counter + k - 1),
                            "right": right, "deleted": False}
                    self.document.insert(position + k, item)
                    scalars.append(scalar)
            elif kind == "delete":
                (device, start), count = op[1], op[2]
                for item in self.document:
                    if item["device"] == device and start <= item["counter"] < start + count: item["deleted"] = True
            else:
                raise ValueError(kind)
        if self.last is None or stamp > self.last: self.last = stamp

    def position(self, scalar_id):
        return next(i for i, item in enumerate(self.document) if (item["device"], item["counter"]) == scalar_id)

    def visible(self):
        return "".join(self.typed[item["device"]][item["counter"]] for item in self.document if not item["deleted"])

    def value(self, name):
        writes = sorted(self.registers[name], key=lambda w: (w[0], w[1]))
        superseded = set(d for w in writes for d in w[3])
        heads = [w for w in writes if w[1] not in superseded]
        return heads[-1][2] if heads else None

    # ---- § 4: the snapshot ----------------------------------------------------------------------

    def snapshot(self):
        named = set()
        for stamp in [self.creation, self.last]:
            if stamp: named.add(stamp[1])
        for writes in self.registers.values():
            for stamp, dot, _, supersedes in writes:
                named.update([stamp[1], dot[0]] + [d for d, _ in supersedes])
        for target in self.sets.values():
            for _, dots in target["additions"].values(): named.update(d for d, _ in dots)
            named.update(d for d, _ in target["removed"])
            named.update(stamp[1] for stamp, _, _ in target["history"])
        named.update(device for _, device in self.acks)
        named.update(self.typed)
        table = sorted(named)
        index = {device: i for i, device in enumerate(table)}

        def stamp(s): return varint(index[s[1]]) + varint(s[0])
        def optional_stamp(s): return b"\x00" if s is None else b"\x01" + stamp(s)
        def dots(items): return varint(len(items)) + b"".join(varint(index[d]) + varint(n) for d, n in items)
        def ref(item): return varint(0) if item is None else varint(index[item[0]] + 1) + varint(item[1])
        encoders = {"title": string, "kind": string, "mood": lambda v: bytes([v or 0]),
                    "deleted": lambda v: bytes([1 if v else 0]),
                    "replyTo": lambda v: b"\x00" if v is None else b"\x01" + v,
                    "date": lambda v: b"\x00" if v is None else b"\x01" + varint(v)}

        def order(value): return unicodedata.normalize("NFC", value).encode() if isinstance(value, str) else value

        out = varint(1) + ENTRY + varint(len(table)) + b"".join(table)
        out += optional_stamp(self.creation) + optional_stamp(self.last)
        for name in self.REGISTERS:
            writes = sorted(self.registers[name], key=lambda w: (w[0], w[1]))     # (hlc, device), then (device, seq)
            out += varint(len(writes))
            for s, dot, value, supersedes in writes:
                out += dots([dot]) + varint(s[0]) + encoders[name](value) + dots(supersedes)
        for name, element in [("factors", lambda f: bytes([f])), ("tags", string)]:
            target = self.sets[name]
            out += varint(len(target["additions"]))
            for key in sorted(target["additions"], key=order):                  # by the NFC form's scalars
                spelling, added = target["additions"][key]
                out += element(spelling) + dots(sorted(added))
            out += dots(sorted(target["removed"]))
            history = sorted(target["history"], key=lambda h: (h[0], order(h[1]), h[2]))   # (stamp, element, added)
            out += varint(len(history))
            for s, value, added in history:
                out += element(value) + bytes([added]) + stamp(s)
        acks = sorted(self.acks)
        out += varint(len(acks)) + b"".join(stamp(s) for s in acks)

        authors = sorted(self.typed)
        out += varint(len(authors)) + b"".join(varint(index[d]) + string("".join(self.typed[d])) for d in authors)
        spans = []
        for item in self.document:
            last = spans[-1] if spans else None
            if (last and last["device"] == item["device"] and last["counter"] + last["length"] == item["counter"]
                    and last["deleted"] == item["deleted"] and item["left"] == (last["device"], last["counter"] + last["length"] - 1)
                    and item["right"] == last["right"]):
                last["length"] += 1
            else:
                spans.append({**item, "length": 1})
        out += varint(len(spans))
        for i, span in enumerate(spans):
            previous = spans[i - 1] if i > 0 else None
            following = spans[i + 1] if i + 1 < len(spans) else None
            previous_last = (previous["device"], previous["counter"] + previous["length"] - 1) if previous else None
            next_first = (following["device"], following["counter"]) if following else None
            left_implied, right_implied = span["left"] == previous_last, span["right"] == next_first
            same_device = previous is not None and previous["device"] == span["device"]
            continues = same_device and previous["counter"] + previous["length"] == span["counter"]
            out += varint(span["length"] << 5 | continues << 4 | same_device << 3 | right_implied << 2 | left_implied << 1 | span["deleted"])
            if not same_device: out += varint(index[span["device"]])
            if not continues: out += varint(span["counter"])
            if not left_implied: out += ref(span["left"])
            if not right_implied: out += ref(span["right"])
        return out


tests = []


def case(comment, changes):
    model = Model()
    encoded = []
    for author, seq, time, deps, ops in changes:
        encoded.append(encode_change(author, seq, time, deps, ops).hex())
        model.apply(author, seq, time, ops)
    tests.append({"id": len(tests) + 1, "comment": comment, "entry": ENTRY.hex(), "changes": encoded,
                  "snapshot": model.snapshot().hex(), "title": model.value("title") or "", "text": model.visible(),
                  "result": "success"})


case("created and titled 'Hi' by 11… (operations.json case 1): one register write, an empty body",
     [(A, 1, hlc(1), [], [("create",), ("setTitle", "Hi", [])])])

case("11… types 'hello', sets mood 4, then deletes 'ell': three spans (the middle one deleted), the typed text kept whole",
     [(A, 1, hlc(1), [], [("create",), ("insert", 0, None, None, "hello"), ("setMood", 4, [])]),
      (A, 2, hlc(2), [], [("delete", (A, 1), 3)])])

case("scalars, not characters: 'e' + U+0301 + U+1F642 are three counters; deleting the combining mark leaves 'e🙂'",
     [(A, 1, hlc(1), [], [("create",), ("insert", 0, None, None, "e\u0301\U0001F642")]),
      (A, 2, hlc(1, 1), [], [("delete", (A, 1), 1)])])

case("two devices: 11… creates, titles 'Hi', types 'ab', tags 'walk', adds comfort; 33…, after 11…#1, types 'X' between a and b, "
     "retitles 'Oh' superseding 11…#1, removes the tag, adds comfort again, acknowledges, sets a date and a kind; "
     "11…, after 33…#1, removes the comfort it saw (33…'s addition survives) and types '!' at the end",
     [(A, 1, hlc(1), [], [("create",), ("setTitle", "Hi", []), ("insert", 0, None, None, "ab"), ("addTag", "walk"),
                          ("addFactor", "comfort")]),
      (B, 1, hlc(3), [(A, 1)], [("insert", 0, (A, 0), (A, 1), "X"), ("setTitle", "Oh", [(A, 1)]),
                                ("removeTag", "walk", [(A, 1)]), ("addFactor", "comfort"), ("acknowledge",),
                                ("setDate", 1_700_000_000_000, []), ("setKind", "gratitude", [])]),
      (A, 2, hlc(4), [(B, 1)], [("removeFactor", "comfort", [(A, 1)]), ("insert", 2, (A, 1), None, "!")])])

case("concurrent titles: 11…#2 and 33…#1 both write without seeing the other; the greater (hlc, device) wins and both stay as history",
     [(A, 1, hlc(1), [], [("create",), ("setTitle", "first", [])]),
      (A, 2, hlc(5), [], [("setTitle", "mine", [(A, 1)])]),
      (B, 1, hlc(5), [(A, 1)], [("setTitle", "yours", [(A, 1)]), ("setDeleted", True, [])])])

case("canonically equivalent tags: 11… tags 'é' (U+00E9), 33… concurrently 'e' U+0301 — one element, spelled as the smaller "
     "in UTF-8 (65 cc 81 < c3 a9) whichever arrived first; both additions and both history items are kept; and 'f', which sorts "
     "before 'é' (tags are ordered by their NFC form)",
     [(A, 1, hlc(1), [], [("create",)]),
      (A, 2, hlc(2), [], [("addTag", "\u00e9"), ("addTag", "f")]),
      (B, 1, hlc(2), [(A, 1)], [("addTag", "e\u0301")])])

root = {
    "kind": "snapshot",
    "format": "Duet entry snapshot, version 1 (Protocol/SPEC.md § 4), from changes encoded as § 3.2",
    "source": ["computed by Protocol/tools/snapshot_vectors.py from the specification: a plain Python model of §§ 3.3 and 4, "
               "independent of the Swift code"],
    "notes": "success: each of changes decodes (§ 3.2); receiving them in order into an empty replica applies every one; "
             "the entry's canonical snapshot is snapshot; decoding snapshot and encoding it again gives the same bytes; "
             "title is the title register's value and text the visible body.",
    "tests": tests,
}
path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "snapshots.json"
path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {len(tests)} cases to {path}")
