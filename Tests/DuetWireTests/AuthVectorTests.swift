import DuetCrypto
import DuetWire
import Foundation
import Testing

/// `Protocol/vectors/wire-auth.json`, written by `Protocol/tools/auth_vectors.py` from SPEC § 6.3
/// alone: the bytes a device (or its sync daemon) signs to open a relay session, and the bodies
/// of `POST /v1/auth/session`.
@Suite("Authentication vectors")
struct AuthVectorTests {
    @Test("wire-auth.json: the signed message, the signatures, the delegation and the session bodies are as listed")
    func authentication() throws {
        let cases = try WireVectorTests.load("wire-auth.json")
        #expect(cases.count >= 8)
        for test in cases {
            let id = test["id"] as? Int ?? -1
            func bytes(_ key: String) throws -> [UInt8] { try #require(WireVectorTests.bytes(test[key]), "case \(id): \(key)") }
            let kind = try #require(test["kind"] as? String, "case \(id)")
            let device: Set<String> = ["id", "comment", "kind", "origin", "challenge", "deviceSeed", "deviceKey", "message", "signature",
                                       "sessionBody", "result"]
            let delegated = device.union(["daemonSeed", "daemonKey", "delegationMessage", "delegation"])
            #expect(Set(test.keys) == (kind == "delegated" ? delegated : device), "case \(id): keys")
            let origin = try #require(test["origin"] as? String, "case \(id)")
            let challenge = try bytes("challenge")
            let message = RelayMessages.authenticationMessage(origin: origin, challenge: challenge)
            #expect(message == (try bytes("message")), "case \(id): message")

            let deviceKey = try SigningKey(seed: SecretBytes(copying: try bytes("deviceSeed")))
            #expect(deviceKey.verifyingKey.bytes == (try bytes("deviceKey")), "case \(id)")
            var signer = deviceKey
            var body = deviceKey.verifyingKey.bytes + challenge
            let signature = try Signature(bytes: try bytes("signature"))
            body += signature.bytes
            if kind == "delegated" {
                let daemon = try SigningKey(seed: SecretBytes(copying: try bytes("daemonSeed")))
                #expect(daemon.verifyingKey.bytes == (try bytes("daemonKey")), "case \(id)")
                #expect(Array("duet sync delegation v1".utf8) + daemon.verifyingKey.bytes == (try bytes("delegationMessage")), "case \(id)")
                let delegation = try Signature(bytes: try bytes("delegation"))
                #expect(SyncDelegation.sign(delegate: daemon.verifyingKey, by: deviceKey) == delegation, "case \(id): delegation")
                #expect(SyncDelegation.isValid(delegation, delegate: daemon.verifyingKey, device: deviceKey.verifyingKey), "case \(id)")
                body += daemon.verifyingKey.bytes + delegation.bytes
                signer = daemon
            }
            #expect(body == (try bytes("sessionBody")), "case \(id): session body")
            #expect(body.count == (kind == "delegated" ? 224 : 128), "case \(id)")

            let verifies = signer.verifyingKey.isValidSignature(signature, for: message)
            switch test["result"] as? String {
            case "success":
                #expect(verifies, "case \(id): the signature verifies over the message")
                // Ed25519 is deterministic: an independent signer gives the same bytes.
                #expect(signer.signature(for: message) == signature, "case \(id): signature")
            case "authenticationFailure":
                #expect(!verifies, "case \(id): a signature over another origin is refused")
            default:
                Issue.record("case \(id): unknown result")
            }
        }
    }
}
