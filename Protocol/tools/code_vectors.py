#!/usr/bin/env python3
"""Writes Protocol/vectors/wire-codes.json from SPEC §§ 7.2, 7.3 and 7.5 alone: an implementation
of the one-time codes, what is derived from them and the safety number, independent of the Swift
code and of libsodium (hashlib's BLAKE2b; crypto_kdf_derive_from_key is BLAKE2b keyed with the
master key, salt = subkey id LE64 ‖ 0⁸, personal = context ‖ 0⁸, empty message).
Run: python3 Protocol/tools/code_vectors.py"""
import hashlib
import json
import pathlib

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"   # Crockford's base 32: no I, L, O, U


def kdf(master, subkey_id, context, length=32):
    assert len(context) == 8
    return hashlib.blake2b(b"", digest_size=length, key=master,
                           salt=subkey_id.to_bytes(8, "little") + bytes(8),
                           person=context + bytes(8)).digest()


def encode(sixteen):
    """128 bits as 26 base-32 digits, most significant first (the top two bits are zero), in
    groups of 5 joined by '-': how a code is shown."""
    value = int.from_bytes(sixteen, "big")
    digits = "".join(ALPHABET[(value >> (5 * (25 - i))) & 31] for i in range(26))
    return "-".join(digits[i:i + 5] for i in range(0, 26, 5))


def canonical(typed):
    """The text that is hashed: upper case, spaces and '-' removed, O read as 0 and I, L as 1;
    None unless exactly 26 characters of the alphabet remain."""
    text = "".join(c for c in typed.upper() if c not in " \t\r\n-")
    text = text.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(text) != 26 or any(c not in ALPHABET for c in text):
        return None
    return text


def pairing(code):
    m = hashlib.blake2b(b"duet pairing v1" + code.encode("ascii"), digest_size=32).digest()
    return m, kdf(m, 1, b"duetmbox")[:16], kdf(m, 2, b"duetmbox")[:16], kdf(m, 3, b"duetmbox")


def recovery(code):
    r = hashlib.blake2b(b"duet recovery v1" + code.encode("ascii"), digest_size=32).digest()
    return r, kdf(r, 1, b"duetrcvr")[:16], kdf(r, 2, b"duetrcvr")


def safety_number(a, b):
    first, second = sorted([a, b])          # ascending as byte strings
    digest = hashlib.blake2b(b"duet safety number v1" + first + second, digest_size=60).digest()
    groups = [int.from_bytes(digest[5 * i:5 * i + 5], "big") % 100_000 for i in range(12)]
    return " ".join(f"{g:05d}" for g in groups)


def main():
    tests = []


    def case(**fields):
        tests.append({"id": len(tests) + 1, **fields})


    # How a code is shown.
    for raw, comment in [(bytes(16), "all zero bits"), (bytes([0xff] * 16), "all one bits: the first digit carries 3 bits, at most 7"),
                         (bytes(range(16)), "00 01 … 0f"), (bytes.fromhex("8f1e2d3c4b5a69788796a5b4c3d2e1f0"), "mixed bits")]:
        case(comment=f"shown form of 16 random bytes, {comment}", kind="encode", bytes=raw.hex(), code=encode(raw), result="success")

    # Pairing and linking derivations.
    shown = encode(bytes.fromhex("8f1e2d3c4b5a69788796a5b4c3d2e1f0"))
    typed_forms = [
        (shown, "as shown"),
        (shown.lower(), "lower case"),
        (shown.replace("-", " "), "spaces instead of dashes"),
        (shown.replace("-", ""), "no separators"),
        ("  " + shown.replace("-", " - ") + "\n", "extra spaces and a newline"),
        ("0123456789abcdefghjkmnpqrs", "every digit and the first letters"),
        ("oOiIlL" + "tvwxyz" + "ZZZZZZZZZZZZZZ", "O read as 0, I and L as 1; 26 digits need not fit in 128 bits"),
    ]
    for typed, comment in typed_forms:
        text = canonical(typed)
        m, invite, reply, key = pairing(text)
        case(comment=f"pairing or link code, {comment}", kind="pairing", code=typed, canonical=text,
             seed=m.hex(), inviteMailbox=invite.hex(), replyMailbox=reply.hex(), mailboxKey=key.hex(), result="success")

    for typed, comment in typed_forms[:2] + typed_forms[5:6]:
        text = canonical(typed)
        r, slot, key = recovery(text)
        case(comment=f"recovery code, {comment}", kind="recovery", code=typed, canonical=text,
             seed=r.hex(), slot=slot.hex(), key=key.hex(), result="success")

    for typed, comment in [("", "empty"), (shown[:-1], "25 characters"), (shown + "0", "27 characters"),
                           ("U" * 26, "U is not in the alphabet"), (shown.replace("-", "_"), "underscores are not separators"),
                           (shown.replace("-", "."), "dots are not separators")]:
        assert canonical(typed) is None
        case(comment=f"not a code: {comment}", kind="pairing", code=typed, result="malformed")
        case(comment=f"not a recovery code: {comment}", kind="recovery", code=typed, result="malformed")

    # Safety numbers.
    keys = [bytes([0x01] * 32), bytes([0xfe] * 32), bytes(range(32)), bytes(range(32, 64))]
    for a, b, comment in [(keys[0], keys[1], "01 × 32 and fe × 32"), (keys[1], keys[0], "the same two keys, the other way round"),
                          (keys[3], keys[2], "20 21 … 3f and 00 01 … 1f")]:
        case(comment=f"safety number of {comment}", kind="safetyNumber", keyA=a.hex(), keyB=b.hex(),
             safetyNumber=safety_number(a, b), result="success")

    assert tests[-3]["safetyNumber"] == tests[-2]["safetyNumber"]

    root = {
        "kind": "codes",
        "format": "One-time codes, what is derived from them, and the safety number (Protocol/SPEC.md §§ 7.2, 7.3, 7.5)",
        "source": ["computed by Protocol/tools/code_vectors.py from the specification with Python's hashlib (BLAKE2b): "
                   "independent of the Swift code and of libsodium"],
        "notes": "encode: 16 bytes → the code as shown. pairing: the code as typed → canonical text, seed = BLAKE2b-256('duet pairing v1' ‖ canonical), "
                 "inviteMailbox = KDF(seed, 1, 'duetmbox')[0..16], replyMailbox = KDF(seed, 2, 'duetmbox')[0..16], mailboxKey = KDF(seed, 3, 'duetmbox'); "
                 "recovery: seed = BLAKE2b-256('duet recovery v1' ‖ canonical), slot = KDF(seed, 1, 'duetrcvr')[0..16], key = KDF(seed, 2, 'duetrcvr'). "
                 "Every KDF output is 32 bytes; ids are its first 16. malformed: the text is not a code. "
                 "safetyNumber: of keyA and keyB, in either order.",
        "tests": tests,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "wire-codes.json"
    path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(tests)} cases to {path}")


if __name__ == "__main__":
    main()
