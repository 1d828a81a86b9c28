#!/usr/bin/env python3
"""Writes Protocol/vectors/wire-certificates.json from SPEC § 6.2 alone: device certificates,
their refusals, and when one is valid by the relay's clock (expires = 0 never expires; otherwise
valid while the clock reads less than expires). Independent of the Swift code and of libsodium
(pyca/cryptography Ed25519). Run: python3 Protocol/tools/certificate_vectors.py"""
import json
import pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from pairing_vectors import varint


def key(seed_byte):
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32)
    return private, private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def certificate(identity, device_public, created, expires, version=1, signer=None):
    body = bytes([version]) + identity[1] + device_public + varint(created) + varint(expires)
    return body + (signer or identity)[0].sign(b"duet device certificate v1" + body)


def main():
    alex, laptop, sam = key(0x01), key(0x02), key(0x03)
    JAN_2026, MAX = 1_767_225_600_000, (1 << 48) - 1
    tests = []

    def case(comment, raw, result, times=None):
        test = {"id": len(tests) + 1, "comment": comment, "certificate": raw.hex(), "result": result}
        if times is not None: test["validAt"] = times
        tests.append(test)

    never = certificate(alex, laptop[1], JAN_2026, 0)
    case("Alex certifies the laptop on 2026-01-01, never expiring (expires 0): valid at any time the clock can read",
         never, "success", {"0": True, str(JAN_2026): True, str(MAX): True})
    expiring = certificate(alex, laptop[1], JAN_2026, JAN_2026 + 86_400_000)
    case("expiring a day later: valid while the relay's clock reads less than expires, expired from expires on; created is not checked",
         expiring, "success", {"0": True, str(JAN_2026 + 86_399_999): True, str(JAN_2026 + 86_400_000): False, str(MAX): False})
    case("created and expires at 2^48 - 1, the HLC's last millisecond", certificate(alex, laptop[1], MAX, MAX), "success",
         {str(MAX - 1): True, str(MAX): False})
    case("created at 2^48 ms, past the HLC's range", certificate(alex, laptop[1], MAX + 1, 0), "malformed")
    case("expires at 2^48 ms, past the HLC's range", certificate(alex, laptop[1], 1, MAX + 1), "malformed")
    case("version 2", certificate(alex, laptop[1], JAN_2026, 0, version=2), "unsupportedVersion")
    case("signed by Sam's identity while naming Alex's", certificate(alex, laptop[1], JAN_2026, 0, signer=sam), "authenticationFailure")
    case("truncated inside the signature", never[:-1], "truncated")
    case("a trailing byte", never + b"\x00", "malformed")
    overlong = bytes([1]) + alex[1] + laptop[1] + b"\x81\x00" + varint(0)
    case("created written as an overlong varint (81 00 for 1)", overlong + alex[0].sign(b"duet device certificate v1" + overlong), "malformed")

    root = {
        "kind": "certificate",
        "format": "Device certificate, version 1 (Protocol/SPEC.md § 6.2)",
        "source": ["computed by Protocol/tools/certificate_vectors.py from the specification with pyca/cryptography's Ed25519: "
                   "independent of the Swift code and of libsodium"],
        "notes": "Identity key from seed 01 × 32, device key from seed 02 × 32. success: the certificate parses, re-encodes to the same "
                 "bytes and its signature verifies; validAt maps a relay clock reading (ms, decimal) to whether the certificate is valid "
                 "then. Otherwise parsing fails (truncated, malformed, unsupportedVersion) or verifying does (authenticationFailure).",
        "tests": tests,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "wire-certificates.json"
    path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(tests)} cases to {path}")


if __name__ == "__main__":
    main()
