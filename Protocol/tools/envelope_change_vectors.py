#!/usr/bin/env python3
"""Writes Protocol/vectors/envelope-changes.json from SPEC §§ 2.2, 3.2 and 5 alone: validly signed
and sealed envelopes whose change does or does not repeat the envelope's device and seq, in two
spaces (seqs count per space). Independent of the Swift code and of libsodium (hashlib, pyca
Ed25519 and ChaCha20-Poly1305, HChaCha20 from pairing_vectors.py).
Run: python3 Protocol/tools/envelope_change_vectors.py"""
import hashlib
import json
import pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from pairing_vectors import seal, varint


def padme(length):
    if length < 2: return length
    exponent = length.bit_length() - 1
    cleared = exponent - exponent.bit_length()        # E − S with S = ⌊log₂ E⌋ + 1
    if cleared <= 0: return length
    mask = (1 << cleared) - 1
    return (length + mask) & ~mask


def pad(message):
    total = max(64, padme(len(message) + 1))
    return message + b"\x80" + bytes(total - len(message) - 1)


DEVICE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = DEVICE.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
DEVICE_ID = hashlib.blake2b(b"duet device id v1" + PUBLIC, digest_size=32).digest()[:16]
OTHER = bytes([0x11]) * 16
CONTENT_KEY = bytes([0x42]) * 32
NONCE = bytes(range(24))
ENTRY = bytes([0x22]) * 16
FIRST, SECOND = bytes([0x5A]) * 16, bytes([0x5B]) * 16


def change(author, seq, ms, operations):
    """A change of one author with no other devices: create and a title, or a title alone."""
    return varint(1) + varint(1) + author + varint(seq) + varint(ms << 16) + varint(0) + ENTRY + operations


def envelope(space, seq, previous, plaintext, epoch=1):
    header = bytes([1]) + space + varint(epoch) + DEVICE_ID + varint(seq) + previous
    sealed = seal(CONTENT_KEY, NONCE, pad(plaintext), header)
    body = header + varint(len(sealed)) + sealed
    return body + DEVICE.sign(body)


def main():
    created = varint(2) + b"\x01" + b"\x02" + varint(2) + b"Hi" + varint(0)
    tests = []


    def case(comment, space, seq, previous, plaintext, result):
        bytes_ = envelope(space, seq, previous, plaintext)
        tests.append({"id": len(tests) + 1, "comment": comment, "envelope": bytes_.hex(), "signer": PUBLIC.hex(),
                      "contentKey": CONTENT_KEY.hex(), "space": space.hex(), "seq": seq, "plaintext": plaintext.hex(), "result": result})
        return hashlib.blake2b(bytes_, digest_size=32).digest()


    first = case("seq 1 in space 5a…: the change names the envelope's device and seq 1", FIRST, 1, bytes(32), change(DEVICE_ID, 1, 1, created), "applied")
    case("seq 1 in space 5a…, validly signed and sealed, but the change names device 11… as its author", FIRST, 1, bytes(32),
         change(OTHER, 1, 1, created), "unreadable")
    case("seq 1 in space 5a…, but the change says seq 2", FIRST, 1, bytes(32), change(DEVICE_ID, 2, 1, created), "unreadable")
    case("seq 2 in space 5a…, chained to the first: retitled 'Oh', superseding its own seq 1", FIRST, 2, first,
         change(DEVICE_ID, 2, 2, varint(1) + b"\x02" + varint(2) + b"Oh" + varint(1) + varint(0) + varint(1)), "applied")
    case("the same device's first envelope in space 5b…: its change is seq 1 again, whatever it wrote in 5a…", SECOND, 1, bytes(32),
         change(DEVICE_ID, 1, 3, created), "applied")
    case("the first envelope in space 5b… whose change continues the count of 5a… (seq 3): seqs count per space", SECOND, 1, bytes(32),
         change(DEVICE_ID, 3, 3, created), "unreadable")

    root = {
        "kind": "envelope-change",
        "format": "A change inside its envelope (Protocol/SPEC.md §§ 3.2, 5.2)",
        "source": ["computed by Protocol/tools/envelope_change_vectors.py from the specification with hashlib and pyca/cryptography: "
                   "independent of the Swift code and of libsodium"],
        "notes": "Device key from seed 00 01 … 1f, content key 42 × 32, epoch 1, nonce 00 … 17. Every envelope parses, verifies with signer "
                 "and opens with contentKey to plaintext, a change that decodes. applied: the change's author and seq are the header's "
                 "device and seq, and it applies; unreadable: they are not, and a receiver consumes the seq without applying anything.",
        "tests": tests,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "envelope-changes.json"
    path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(tests)} cases to {path}")


if __name__ == "__main__":
    main()
