#!/usr/bin/env python3
"""Writes Protocol/vectors/wire-pairing.json from SPEC §§ 7.2, 7.3 and 7.5 alone: the sealed
messages that travel through mailboxes and recovery slots — invite, reply, link request and
identity bundle — each sealed under the key a code derives (wire-codes.json), and the body of
`PUT /v1/recovery/{id}`. Independent of the Swift code and of libsodium: hashlib's BLAKE2b,
pyca/cryptography's Ed25519 and ChaCha20-Poly1305, and XChaCha20 from HChaCha20 written out here
(checked against draft-irtf-cfrg-xchacha-03 A.3.1, crypto-aead.json case 1).
Run: python3 Protocol/tools/pairing_vectors.py"""
import hashlib
import json
import pathlib
import struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

import code_vectors as codes   # the codes and their derivations, § 7.2
from wire_encoding import varint   # SPEC § 1, shared by the generators


def hchacha20(key, nonce16):
    def rotl(v, n): return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))
    state = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    def quarter(a, b, c, d):
        state[a] = (state[a] + state[b]) & 0xFFFFFFFF; state[d] = rotl(state[d] ^ state[a], 16)
        state[c] = (state[c] + state[d]) & 0xFFFFFFFF; state[b] = rotl(state[b] ^ state[c], 12)
        state[a] = (state[a] + state[b]) & 0xFFFFFFFF; state[d] = rotl(state[d] ^ state[a], 8)
        state[c] = (state[c] + state[d]) & 0xFFFFFFFF; state[b] = rotl(state[b] ^ state[c], 7)
    for _ in range(10):
        quarter(0, 4, 8, 12); quarter(1, 5, 9, 13); quarter(2, 6, 10, 14); quarter(3, 7, 11, 15)
        quarter(0, 5, 10, 15); quarter(1, 6, 11, 12); quarter(2, 7, 8, 13); quarter(3, 4, 9, 14)
    return struct.pack("<8I", *(state[0:4] + state[12:16]))


def seal(key, nonce, plaintext, aad):
    """Duet's sealed form: nonce (24) ‖ XChaCha20-Poly1305 ciphertext ‖ tag (16)."""
    return nonce + ChaCha20Poly1305(hchacha20(key, nonce[:16])).encrypt(bytes(4) + nonce[16:], plaintext, aad)


_aead = json.loads((pathlib.Path(__file__).resolve().parent.parent / "vectors" / "crypto-aead.json").read_text())["tests"][0]
assert seal(bytes.fromhex(_aead["key"]), bytes.fromhex(_aead["nonce"]), bytes.fromhex(_aead["plaintext"]),
            bytes.fromhex(_aead["aad"])).hex() == _aead["sealed"], "XChaCha20-Poly1305 as the draft's A.3.1"


def key(seed_byte):
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    return private, private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)




def certificate(identity, device_public, created=1_767_225_600_000, expires=0):
    private, public = identity
    body = bytes([1]) + public + device_public + varint(created) + varint(expires)
    return body + private.sign(b"duet device certificate v1" + body)


def short(text):      # a name: u8 length ‖ UTF-8
    raw = text.encode()
    return bytes([len(raw)]) + raw


def long(text):       # a name in pairing messages: varint length ‖ UTF-8
    raw = text.encode()
    return varint(len(raw)) + raw


def keys(epochs):     # u8 count ‖ (epoch u64be ‖ key 32)*, ascending
    return bytes([len(epochs)]) + b"".join(struct.pack(">Q", e) + k for e, k in sorted(epochs.items()))


def main():
    alex, laptop = key(0x01), key(0x02)
    sam, phone = key(0x03), key(0x04)
    tablet = key(0x05)
    SPACE, PERSONAL = bytes([0x77]) * 16, bytes([0x66]) * 16
    HEAD = bytes([0xAB]) * 32
    NONCE = bytes(range(24))
    PAIRING_CODE = codes.encode(bytes.fromhex("8f1e2d3c4b5a69788796a5b4c3d2e1f0"))
    _, INVITE_BOX, REPLY_BOX, MAILBOX_KEY = codes.pairing(codes.canonical(PAIRING_CODE))
    RECOVERY_CODE = codes.encode(bytes(range(16)))
    _, SLOT, RECOVERY_KEY = codes.recovery(codes.canonical(RECOVERY_CODE))

    tests = []


    def case(comment, kind, plaintext, aad, result, code=PAIRING_CODE, **expect):
        tests.append({"id": len(tests) + 1, "comment": comment, "kind": kind, "code": code,
                      "sealed": seal(MAILBOX_KEY if code == PAIRING_CODE else RECOVERY_KEY, NONCE, plaintext, aad).hex(),
                      "result": result, **expect})


    INVITE_AD, REPLY_AD = b"duet pairing invite v1", b"duet pairing reply v1"
    laptop_certificate = certificate(alex, laptop[1])

    def invite_bytes(version=1, length=6, cert=laptop_certificate, name="Alex's laptop", identity=alex[1]):
        return bytes([version]) + SPACE + identity + HEAD + varint(length) + varint(len(cert)) + cert + long(name)

    case("Alex's invite: couple space 77…, Alex's identity, the log's head and length, the laptop's certificate and name",
         "invite", invite_bytes(), INVITE_AD, "success", space=SPACE.hex(), identity=alex[1].hex(), logHead=HEAD.hex(), logLength=6,
         certificate=laptop_certificate.hex(), name="Alex's laptop")
    case("an invite naming a log of 10,000 records, the most a client reads", "invite", invite_bytes(length=10_000), INVITE_AD, "success",
         space=SPACE.hex(), identity=alex[1].hex(), logHead=HEAD.hex(), logLength=10_000, certificate=laptop_certificate.hex(),
         name="Alex's laptop")
    case("an invite naming a log of 0 records", "invite", invite_bytes(length=0), INVITE_AD, "malformed")
    case("an invite naming a log of 10,001 records", "invite", invite_bytes(length=10_001), INVITE_AD, "malformed")
    case("an invite of version 2", "invite", invite_bytes(version=2), INVITE_AD, "unsupportedVersion")
    case("an invite whose certificate another identity signed (Sam's, for Alex's laptop)", "invite",
         invite_bytes(cert=certificate(sam, laptop[1])), INVITE_AD, "malformed")
    case("an invite whose name is 65 bytes", "invite", invite_bytes(name="x" * 65), INVITE_AD, "malformed")
    case("an invite whose name is empty", "invite", invite_bytes(name=""), INVITE_AD, "malformed")
    case("an invite with a trailing byte", "invite", invite_bytes() + b"\x00", INVITE_AD, "malformed")
    case("an invite sealed with the reply's associated data (a reply left in the invite mailbox)", "invite", invite_bytes(), REPLY_AD, "malformed")

    phone_certificate = certificate(sam, phone[1])
    reply = bytes([1]) + sam[1] + varint(len(phone_certificate)) + phone_certificate + long("Sam's phone")
    case("Sam's reply: Sam's identity, the phone's certificate and name", "reply", reply, REPLY_AD, "success",
         identity=sam[1].hex(), certificate=phone_certificate.hex(), name="Sam's phone")
    case("the same reply sealed as an invite", "reply", reply, INVITE_AD, "malformed")
    case("a reply whose name is 'Sam’s phone' in UTF-8 with a right single quotation mark", "reply",
         bytes([1]) + sam[1] + varint(len(phone_certificate)) + phone_certificate + long("Sam\u2019s phone"), REPLY_AD, "success",
         identity=sam[1].hex(), certificate=phone_certificate.hex(), name="Sam\u2019s phone")

    LINK_AD = b"duet link request v1"
    case("a new device's link request: its key and name (u8 length)", "linkRequest", bytes([1]) + tablet[1] + short("Alex's tablet"), LINK_AD,
         "success", device=tablet[1].hex(), name="Alex's tablet")
    case("a link request with a trailing byte", "linkRequest", bytes([1]) + tablet[1] + short("Alex's tablet") + b"\x00", LINK_AD, "malformed")
    case("a link request of version 2", "linkRequest", bytes([2]) + tablet[1] + short("Alex's tablet"), LINK_AD, "unsupportedVersion")

    PERSONAL_KEYS = {1: bytes([0x41]) * 32, 2: bytes([0x42]) * 32}
    COUPLE_KEYS = {1: bytes([0x43]) * 32}
    def bundle(couple=True, recovery=True, personal=PERSONAL_KEYS, version=1, generation=0, heads=()):
        out = bytes([version]) + bytes([0x01]) * 32 + short("Alex") + PERSONAL + keys(personal)
        out += (b"\x01" + SPACE + sam[1] + short("Sam") + keys(COUPLE_KEYS)) if couple else b"\x00"
        out += (b"\x01" + SLOT + RECOVERY_KEY) if recovery else b"\x00"
        if version >= 2:
            # generation:u64be, then the log heads: count:u8 (space:16 records:u64be lastHash:32)*
            out += generation.to_bytes(8, "big") + bytes([len(heads)])
            for space, records, last in heads:
                out += space + records.to_bytes(8, "big") + last
        return out
    HEADS = sorted([(PERSONAL, 7, hashlib.blake2b(b"record 7", digest_size=32).digest()),
                    (SPACE, 12, hashlib.blake2b(b"record 12", digest_size=32).digest())])
    BUNDLE_EXPECT = dict(identitySeed=(bytes([0x01]) * 32).hex(), name="Alex", personalSpace=PERSONAL.hex(),
                         personalKeys={str(e): k.hex() for e, k in PERSONAL_KEYS.items()})
    COUPLE_EXPECT = dict(coupleSpace=SPACE.hex(), partner=sam[1].hex(), partnerName="Sam", coupleKeys={str(e): k.hex() for e, k in COUPLE_KEYS.items()})
    case("Alex's identity bundle for a linked device: identity seed, name, personal space with epochs 1 and 2, the couple space with "
         "Sam and epoch 1, and the recovery slot", "bundleLink", bundle(), b"duet identity bundle v1 link", "success",
         **BUNDLE_EXPECT, **COUPLE_EXPECT, recoverySlot=SLOT.hex(), recoveryKey=RECOVERY_KEY.hex())
    case("a bundle before pairing and without a recovery slot", "bundleLink", bundle(couple=False, recovery=False),
         b"duet identity bundle v1 link", "success", **BUNDLE_EXPECT)
    case("a link bundle sealed for recovery: the purpose is in the associated data", "bundleLink", bundle(), b"duet identity bundle v1 recovery", "malformed")
    case("a bundle whose personal keys list epoch 0", "bundleLink", bundle(personal={0: bytes(32)}), b"duet identity bundle v1 link", "malformed")
    case("a bundle with no personal key", "bundleLink", bundle(personal={}), b"duet identity bundle v1 link", "malformed")
    case("version 2: the same bundle with the recovery blob's generation (41) and both spaces' log heads, in space order", "bundleLink",
         bundle(version=2, generation=41, heads=HEADS), b"duet identity bundle v1 link", "success",
         **BUNDLE_EXPECT, **COUPLE_EXPECT, recoverySlot=SLOT.hex(), recoveryKey=RECOVERY_KEY.hex(), generation=41,
         logHeads={space.hex(): {"records": records, "lastHash": last.hex()} for space, records, last in HEADS})
    case("version 2 with three log heads (a person has at most two spaces)", "bundleLink",
         bundle(version=2, heads=HEADS + [(bytes([0x77]) * 16, 1, bytes(32))]), b"duet identity bundle v1 link", "malformed")
    case("version 2 naming one space twice", "bundleLink", bundle(version=2, heads=[HEADS[0], HEADS[0]]), b"duet identity bundle v1 link", "malformed")
    case("version 1 followed by version 2's fields: nothing may follow a version-1 bundle", "bundleLink",
         bundle(version=1) + bytes(9), b"duet identity bundle v1 link", "malformed")
    case("version 3", "bundleLink", bundle(version=3, heads=HEADS), b"duet identity bundle v1 link", "malformed")
    case("the recovery blob: the same bundle sealed under the recovery code's key", "bundleRecovery", bundle(),
         b"duet identity bundle v1 recovery", "success", code=RECOVERY_CODE,
         **BUNDLE_EXPECT, **COUPLE_EXPECT, recoverySlot=SLOT.hex(), recoveryKey=RECOVERY_KEY.hex())

    # PUT /v1/recovery/{slot}: identity ‖ Ed25519(identity, "duet recovery slot v1" ‖ slot ‖ blob) ‖ blob.
    blob = seal(RECOVERY_KEY, NONCE, bundle(), b"duet identity bundle v1 recovery")
    body = alex[1] + alex[0].sign(b"duet recovery slot v1" + SLOT + blob) + blob
    tests.append({"id": len(tests) + 1, "comment": "the body of PUT /v1/recovery/{slot} for the recovery blob above, signed by Alex's identity",
                  "kind": "recoveryPut", "code": RECOVERY_CODE, "identitySeed": (bytes([0x01]) * 32).hex(), "slot": SLOT.hex(),
                  "blob": blob.hex(), "body": body.hex(), "result": "success"})
    other = SLOT[:-1] + bytes([SLOT[-1] ^ 1])
    tests.append({"id": len(tests) + 1, "comment": "the same body offered for another slot: the signature covers the slot",
                  "kind": "recoveryPut", "code": RECOVERY_CODE, "identitySeed": (bytes([0x01]) * 32).hex(), "slot": other.hex(),
                  "blob": blob.hex(), "body": body.hex(), "result": "authenticationFailure"})

    root = {
        "kind": "pairing-messages",
        "format": "Pairing, link and recovery messages, version 1; identity bundles version 1 and 2 (Protocol/SPEC.md §§ 7.2, 7.3, 7.5)",
        "source": ["computed by Protocol/tools/pairing_vectors.py from the specification with hashlib, pyca/cryptography "
                   "(Ed25519, ChaCha20-Poly1305) and HChaCha20 written out: independent of the Swift code and of libsodium"],
        "notes": "Every sealed message is nonce (00 01 … 17) ‖ XChaCha20-Poly1305 under the key code derives (wire-codes.json: the mailbox key, "
                 "or for bundleRecovery and recoveryPut the recovery key), with the associated data of its kind. success: opening it as its kind "
                 "gives the listed fields (keys by epoch in decimal); otherwise opening fails as named (malformed: does not open, or its "
                 "contents are not that message; unsupportedVersion). recoveryPut: the body verifies for slot and gives back blob "
                 "(authenticationFailure: it does not verify), and signing blob for slot with identitySeed gives body.",
        "tests": tests,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "wire-pairing.json"
    path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(tests)} cases to {path}")


if __name__ == "__main__":
    main()
