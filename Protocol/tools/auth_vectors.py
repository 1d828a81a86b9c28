#!/usr/bin/env python3
"""Writes Protocol/vectors/wire-auth.json from SPEC § 6.3 alone: the message a device signs to
open a relay session, the daemon's delegation, and the session request bodies, independent of
the Swift code and of libsodium (pyca/cryptography Ed25519, which is deterministic).
Run: python3 Protocol/tools/auth_vectors.py"""
import json
import pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization


def key(seed):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return private, private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def message(origin, challenge):
    assert len(challenge) == 32
    return b"duet relay auth v1" + origin.encode("utf-8") + b"\x00" + challenge


device, device_public = key(bytes(range(32)))
daemon, daemon_public = key(bytes(range(32, 64)))
tests = []

for origin, challenge, comment in [
    ("http://127.0.0.1:8479", bytes([0x07]) * 32, "the example of § 6.3: a relay on a loopback port"),
    ("https://relay.example.org", bytes(range(32)), "behind TLS, default port, no path"),
    ("https://Relay.Example.org:8443/duet", bytes([0xff]) * 32, "a port and a path; nothing is case-folded"),
    ("http://[::1]:8479", bytes(range(31, -1, -1)), "an IPv6 literal"),
    ("https://relais.exemple.fr/journal-à-deux", bytes([0x5a]) * 32, "a path that is not ASCII: signed as UTF-8, as configured"),
]:
    signed = message(origin, challenge)
    signature = device.sign(signed)
    tests.append({"id": len(tests) + 1, "comment": comment, "kind": "device", "origin": origin,
                  "challenge": challenge.hex(), "deviceSeed": bytes(range(32)).hex(), "deviceKey": device_public.hex(),
                  "message": signed.hex(), "signature": signature.hex(),
                  "sessionBody": (device_public + challenge + signature).hex(), "result": "success"})

delegation = device.sign(b"duet sync delegation v1" + daemon_public)
for origin, challenge, comment in [("http://127.0.0.1:8479", bytes([0x07]) * 32, "the sync daemon signs the same message with its own key"),
                                   ("https://relay.example.org", bytes(range(32)), "a delegated session behind TLS")]:
    signed = message(origin, challenge)
    signature = daemon.sign(signed)
    tests.append({"id": len(tests) + 1, "comment": comment, "kind": "delegated", "origin": origin,
                  "challenge": challenge.hex(), "deviceSeed": bytes(range(32)).hex(), "deviceKey": device_public.hex(),
                  "daemonSeed": bytes(range(32, 64)).hex(), "daemonKey": daemon_public.hex(),
                  "delegationMessage": (b"duet sync delegation v1" + daemon_public).hex(), "delegation": delegation.hex(),
                  "message": signed.hex(), "signature": signature.hex(),
                  "sessionBody": (device_public + challenge + signature + daemon_public + delegation).hex(), "result": "success"})

# A signature over another origin does not open a session there.
signed = message("http://localhost:8479", bytes([0x07]) * 32)
tests.append({"id": len(tests) + 1, "comment": "signed for http://localhost:8479, checked against http://127.0.0.1:8479: the same relay by another name is another origin",
              "kind": "device", "origin": "http://127.0.0.1:8479", "challenge": (bytes([0x07]) * 32).hex(),
              "deviceSeed": bytes(range(32)).hex(), "deviceKey": device_public.hex(),
              "message": message("http://127.0.0.1:8479", bytes([0x07]) * 32).hex(), "signature": device.sign(signed).hex(),
              "sessionBody": (device_public + bytes([0x07]) * 32 + device.sign(signed)).hex(), "result": "authenticationFailure"})

root = {
    "kind": "relay-auth",
    "format": "Relay session authentication, version 1 (Protocol/SPEC.md § 6.3)",
    "source": ["computed by Protocol/tools/auth_vectors.py from the specification with pyca/cryptography's Ed25519: "
               "independent of the Swift code and of libsodium"],
    "notes": "message = 'duet relay auth v1' ‖ UTF-8 origin ‖ 0x00 ‖ challenge. device: signature = Ed25519(device, message), "
             "sessionBody = deviceKey ‖ challenge ‖ signature (128 bytes). delegated: delegation = Ed25519(device, delegationMessage) with "
             "delegationMessage = 'duet sync delegation v1' ‖ daemonKey; signature = Ed25519(daemon, message); sessionBody = deviceKey ‖ "
             "challenge ‖ signature ‖ daemonKey ‖ delegation (224 bytes). success: the signature verifies over the message built from "
             "origin and challenge; authenticationFailure: it does not (it was made over another origin).",
    "tests": tests,
}
path = pathlib.Path(__file__).resolve().parent.parent / "vectors" / "wire-auth.json"
path.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {len(tests)} cases to {path}")
