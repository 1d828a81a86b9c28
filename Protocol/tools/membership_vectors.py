#!/usr/bin/env python3
"""Writes Protocol/vectors/wire-membership.json from SPEC § 6.2 alone: an implementation of
device certificates, membership records and the log's rules independent of the Swift code
(pyca/cryptography Ed25519, hashlib BLAKE2b). Run: python3 Protocol/tools/membership_vectors.py

Wrapped keys are 80 placeholder bytes: the log checks who may post a wrap and for which
(epoch, device), never the box's content (only its device can open it)."""
import hashlib
import json
import pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from wire_encoding import varint   # SPEC § 1, shared by the generators

def key(seed_byte):
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, public


def certificate(identity, device_public, name, created=1_767_225_600_000, expires=0):
    """`name` only labels the case: certificates carry keys and times; names travel sealed."""
    private, public = identity
    body = bytes([1]) + public + device_public + varint(created) + varint(expires)
    return body + private.sign(b"duet device certificate v1" + body)

SPACE = bytes([0x77]) * 16
BOX = bytes([0xBB]) * 80

class Log:
    def __init__(self):
        self.records = []

    def fork(self):
        copy = Log()
        copy.records = list(self.records)
        return copy

    def sign(self, action, subject, signer, index=None, previous=None):
        private, public = signer
        index = len(self.records) + 1 if index is None else index
        if previous is None:
            previous = hashlib.blake2b(self.records[-1], digest_size=32).digest() if self.records else bytes(32)
        body = bytes([1]) + SPACE + varint(index) + previous + bytes([action]) + subject + public
        return body + private.sign(b"duet membership v1" + body)

    def add(self, action, subject, signer, **options):
        record = self.sign(action, subject, signer, **options)
        self.records.append(record)
        return record

COMMITMENT = bytes([0xCC]) * 32   # stands for BLAKE2b-256 of the epoch's key (§ 6.2); the log only carries it

def create(log, who): log.add(1, who[1] + COMMITMENT, who)
def add_identity(log, who, by): log.add(2, who[1], by)
def add_device(log, cert, by): log.add(3, cert, by)
def remove(log, device_public, by, last_seq=0): log.add(4, device_public + varint(last_seq), by)
def rotate(log, epoch, by): log.add(5, varint(epoch) + COMMITMENT, by)
def wrap(log, epoch, device_public, by): log.add(6, varint(epoch) + device_public + varint(len(BOX)) + BOX, by)
DIRECTORY = bytes([0xDD]) * 64   # stands for a sealed SpaceDirectory; the log carries it, members open it
def directory(log, epoch, by, sealed=DIRECTORY): log.add(7, varint(epoch) + varint(len(sealed)) + sealed, by)

alex, laptop = key(0x01), key(0x02)
sam, phone = key(0x03), key(0x04)
stranger = key(0x09)
tablet, watch = key(0x05), key(0x06)

def couple():
    """Pairing under the per-person rules: Alex creates and keys the laptop, adds Sam; Sam
    certifies the phone; Alex gives the phone the key (Sam holds it on no device yet)."""
    log = Log()
    create(log, alex)
    add_device(log, certificate(alex, laptop[1], "Alex's laptop"), alex)
    wrap(log, 1, laptop[1], alex)
    add_identity(log, sam, alex)
    add_device(log, certificate(sam, phone[1], "Sam's phone"), sam)
    wrap(log, 1, phone[1], alex)
    return log

hexes = lambda log: [r.hex() for r in log.records]
tests = []
def case(comment, log, result, **expect):
    test = {"id": len(tests) + 1, "comment": comment, "records": hexes(log), "result": result}
    test.update(expect)
    tests.append(test)

honest = couple()
add_device(honest, certificate(sam, tablet[1], "tablet"), sam)
wrap(honest, 1, tablet[1], sam)
remove(honest, tablet[1], sam, last_seq=3)
rotate(honest, 2, sam)
wrap(honest, 2, laptop[1], sam)
wrap(honest, 2, phone[1], sam)
case("Pairing: Alex creates the space, adds and keys the laptop, adds Sam; Sam certifies the phone; Alex wraps the key to it. "
     "Sam adds and keys a tablet, removes it (its envelopes up to seq 3 stay valid), rotates to epoch 2 and wraps the new key to every remaining device",
     honest, "success", identities=[alex[1].hex(), sam[1].hex()], devices=[laptop[1].hex(), phone[1].hex()], epoch=2)

log = couple(); remove(log, laptop[1], sam)
case("Sam signs the removal of Alex's laptop: an identity removes only devices it certified", log, "not-own-device")
log = couple(); add_identity(log, stranger, stranger)
case("a stranger adds themselves", log, "not-a-member")
log = couple(); add_identity(log, stranger, alex)
case("Alex adds a third identity: a couple space has two, fixed at pairing", log, "identity-limit")
log = couple(); add_identity(log, stranger, sam)
case("Sam adds a third identity", log, "identity-limit")
log = couple(); add_device(log, certificate(alex, laptop[1], "laptop", expires=1), sam)
case("Sam re-posts Alex's laptop under Alex's identity, now expired (a certificate Alex signed, replayed or coerced)", log, "not-own-device")
log = couple(); add_device(log, certificate(sam, laptop[1], "laptop"), sam)
case("Sam certifies Alex's laptop key under Sam's own identity: a key already in the log is never certified again", log, "device-known")
log = couple(); add_device(log, certificate(sam, watch[1], "watch"), alex)
case("Alex posts a device Sam certified: each person posts only their own devices", log, "not-own-device")
log = couple(); wrap(log, 1, laptop[1], sam)
case("Sam posts a second wrap of epoch 1 for Alex's laptop, to replace Alex's key", log, "wrap-exists")
log = couple(); wrap(log, 1, phone[1], sam)
case("Sam replaces, once, the wrap Alex posted to Sam's phone (it may have been junk)", log, "success",
     identities=[alex[1].hex(), sam[1].hex()], devices=[laptop[1].hex(), phone[1].hex()], epoch=1)
wrap(log, 1, phone[1], sam)
case("Sam replaces it a second time", log, "wrap-exists")
log = couple()
for n in range(129):
    directory(log, 1, sam)
case("Sam's 129th directory record in the space", log, "directory-limit")
log = couple(); add_device(log, certificate(alex, tablet[1], "tablet"), alex); wrap(log, 1, tablet[1], sam)
case("Sam wraps a key to Alex's new tablet while Alex holds the key on the laptop", log, "wrap-not-allowed")
log = couple(); directory(log, 1, alex); directory(log, 1, sam)
case("each person seals a directory (names) for the space under epoch 1's key", log, "success",
     identities=[alex[1].hex(), sam[1].hex()], devices=[laptop[1].hex(), phone[1].hex()], epoch=1)
log = couple(); directory(log, 2, sam)
case("a directory sealed under an epoch that has not begun", log, "invalid-action")
log = couple(); rotate(log, 2, alex)
case("Alex rotates without having removed a device (epoch 1 is his own)", log, "rotation-not-allowed")
log = couple(); add_device(log, certificate(sam, tablet[1], "tablet"), sam); remove(log, tablet[1], sam); rotate(log, 2, sam)
wrap(log, 2, laptop[1], sam); wrap(log, 2, phone[1], sam); rotate(log, 3, alex); wrap(log, 3, laptop[1], alex); wrap(log, 3, phone[1], alex)
case("Sam removes his tablet and rotates; Alex answers with a rotation of his own (his laptop may have been handed a key that does not work)",
     log, "success", identities=[alex[1].hex(), sam[1].hex()], devices=[laptop[1].hex(), phone[1].hex()], epoch=3)
rotate(log, 4, sam)
case("Sam answers Alex's answer: an answer is never answered", log, "rotation-not-allowed")
log = couple()
for n in range(15):
    add_device(log, certificate(sam, key(0x40 + n)[1], "spare"), sam)
case("Sam holds 16 devices at once", log, "success", identities=[alex[1].hex(), sam[1].hex()],
     devices=[laptop[1].hex(), phone[1].hex()] + [key(0x40 + n)[1].hex() for n in range(15)], epoch=1)
add_device(log, certificate(sam, key(0x60)[1], "one more"), sam)
case("a 17th device of Sam's: at most 16 at once, so a rotation's batch stays within what a relay takes", log, "device-limit")
log = couple(); add_device(log, certificate(sam, tablet[1], "tablet"), sam); remove(log, tablet[1], sam); rotate(log, 2, sam)
wrap(log, 2, phone[1], sam); add_device(log, certificate(sam, watch[1], "watch"), sam)
case("Sam rotates and wraps to the phone only, then posts something else: a rotation wraps every member device first",
     log, "rotation-incomplete")
log = couple(); remove(log, phone[1], sam); add_device(log, certificate(sam, phone[1], "Sam's phone"), sam)
case("Sam removes the phone and certifies it back in", log, "device-known")
log = couple(); log.records.append(log.records[2])
case("record 3 replayed where record 7 belongs", log, "out-of-order")
log = couple(); log.records.append(log.sign(3, certificate(sam, watch[1], "watch"), sam, previous=hashlib.blake2b(log.records[1], digest_size=32).digest()))
case("record 7 names the hash of record 2", log, "broken-chain")
log = Log(); create(log, alex); add_device(log, certificate(alex, laptop[1], "Alex's laptop"), alex)
bad = bytearray(log.records[1]); bad[-1] ^= 1; log.records[1] = bytes(bad)
case("one bit of record 2's signature flipped", log, "bad-signature")
log = Log(); create(log, alex)
cert = bytearray(certificate(alex, laptop[1], "Alex's laptop")); cert[-1] ^= 1
add_device(log, bytes(cert), alex)
case("a device certificate whose identity signature is wrong", log, "bad-signature")
log = Log(); create(log, alex); log.records[0] = log.records[0][:-10]
case("truncated record", log, "truncated")
log = couple(); remove(log, phone[1], sam, last_seq=1 << 63)
case("a removal naming a last seq of 2^63, past what stores keep", log, "malformed")
log = Log(); create(log, alex); log.add(9, alex[1], alex)
case("unknown action 9", log, "malformed")

path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "wire-membership.json"
document = {
    "kind": "membership",
    "format": "Device certificates and membership records, version 1 (Protocol/SPEC.md § 6.2)",
    "source": ["computed by an independent Python implementation of § 6.2 (Protocol/tools/membership_vectors.py: pyca/cryptography Ed25519, hashlib BLAKE2b)"],
    "notes": "Keys from seeds: Alex identity 01×32, laptop 02×32, Sam identity 03×32, phone 04×32, tablet 05×32, watch 06×32, stranger 09×32; "
             "space 77×16; wrapped keys are 80 bytes of bb (the log judges who wraps what, not the box). Replay the records in order into a "
             "fresh log; success gives the identities, devices and epoch listed; otherwise the first failing record fails with the named "
             "refusal (§ 6.2's table) or parse error.",
    "tests": tests,
}
path.write_text(json.dumps(document, indent=2) + "\n")
print(f"wrote {len(tests)} cases to {path}")
