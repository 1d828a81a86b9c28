import DuetCrypto
import DuetWire
import Foundation
import Testing

/// `Protocol/vectors/wire-pairing.json`, written by `Protocol/tools/pairing_vectors.py` from SPEC
/// §§ 7.2, 7.3 and 7.5 alone: invites, replies, link requests and identity bundles sealed under
/// the key a code derives, and the body that stores a recovery blob.
@Suite("Pairing message vectors")
struct PairingVectorTests {
    @Test("wire-pairing.json: each sealed message opens to the listed fields, or fails as named")
    func messages() throws {
        let cases = try WireVectorTests.load("wire-pairing.json")
        #expect(cases.count >= 20)
        var kinds: Set<String> = []
        for test in cases {
            let id = test["id"] as? Int ?? -1
            let kind = try #require(test["kind"] as? String, "case \(id)")
            kinds.insert(kind)
            let expected = try #require(test["result"] as? String, "case \(id)")
            var read: Set<String> = ["id", "comment", "kind", "code", "result"]
            func bytes(_ key: String) throws -> [UInt8] {
                read.insert(key)
                return try #require(WireVectorTests.bytes(test[key]), "case \(id): \(key)")
            }
            func text(_ key: String) throws -> String {
                read.insert(key)
                return try #require(test[key] as? String, "case \(id): \(key)")
            }
            func keys(_ key: String) throws -> [UInt64: SymmetricKey] {
                read.insert(key)
                let listed = try #require(test[key] as? [String: String], "case \(id): \(key)")
                var keys: [UInt64: SymmetricKey] = [:]
                for (epoch, hex) in listed {
                    keys[try #require(UInt64(epoch))] = try SymmetricKey(bytes: SecretBytes(copying: try #require(Hex.decode(hex))))
                }
                return keys
            }
            let code = try #require(test["code"] as? String, "case \(id)")
            let recovery = kind == "bundleRecovery" || kind == "recoveryPut"
            let key = try #require(recovery ? Recovery.derive(code: code)?.key : Pairing.derive(code: code)?.key, "case \(id): code")

            var outcome = "success"
            do {
                switch kind {
                case "invite":
                    let invite = try PairingMessages.openInvite(try bytes("sealed"), key: key)
                    #expect(invite.space.bytes == (try bytes("space")), "case \(id)")
                    #expect(invite.identity.bytes == (try bytes("identity")), "case \(id)")
                    #expect(invite.logHead.bytes == (try bytes("logHead")), "case \(id)")
                    read.insert("logLength")
                    #expect(invite.logLength == UInt64(test["logLength"] as? Int ?? -1), "case \(id)")
                    #expect(invite.certificate.encoded == (try bytes("certificate")), "case \(id)")
                    #expect(invite.name == (try text("name")), "case \(id)")
                case "reply":
                    let reply = try PairingMessages.openReply(try bytes("sealed"), key: key)
                    #expect(reply.identity.bytes == (try bytes("identity")), "case \(id)")
                    #expect(reply.certificate.encoded == (try bytes("certificate")), "case \(id)")
                    #expect(reply.name == (try text("name")), "case \(id)")
                case "linkRequest":
                    let request = try LinkRequest.open(try bytes("sealed"), using: key)
                    #expect(request.device.bytes == (try bytes("device")), "case \(id)")
                    #expect(request.deviceName == (try text("name")), "case \(id)")
                case "bundleLink", "bundleRecovery":
                    let bundle = try IdentityBundle.open(try bytes("sealed"), using: key, purpose: kind == "bundleLink" ? "link" : "recovery")
                    #expect(bundle.identity.seed == SecretBytes(copying: try bytes("identitySeed")), "case \(id)")
                    #expect(bundle.name == (try text("name")), "case \(id)")
                    #expect(bundle.personalSpace.bytes == (try bytes("personalSpace")), "case \(id)")
                    #expect(bundle.personalKeys == (try keys("personalKeys")), "case \(id)")
                    if let couple = bundle.couple {
                        #expect(couple.space.bytes == (try bytes("coupleSpace")), "case \(id)")
                        #expect(couple.partner.bytes == (try bytes("partner")), "case \(id)")
                        #expect(couple.partnerName == (try text("partnerName")), "case \(id)")
                        #expect(couple.keys == (try keys("coupleKeys")), "case \(id)")
                    } else {
                        #expect(test["coupleSpace"] == nil, "case \(id): the bundle has no couple space")
                    }
                    if let slot = bundle.recovery {
                        #expect(slot.slot == (try bytes("recoverySlot")), "case \(id)")
                        #expect(slot.key == (try SymmetricKey(bytes: SecretBytes(copying: try bytes("recoveryKey")))), "case \(id)")
                    } else {
                        #expect(test["recoverySlot"] == nil, "case \(id): the bundle has no recovery slot")
                    }
                    // Version 2: the recovery generation and the log heads (absent: 0 and none).
                    read.formUnion(["generation", "logHeads"].filter { test[$0] != nil })
                    #expect(bundle.generation == UInt64(test["generation"] as? Int ?? 0), "case \(id)")
                    let listed = test["logHeads"] as? [String: [String: Any]] ?? [:]
                    #expect(bundle.logHeads.count == listed.count, "case \(id)")
                    for (space, head) in listed {
                        let id16 = try SpaceID(bytes: try #require(Hex.decode(space)))
                        #expect(bundle.logHeads[id16]?.records == UInt64(head["records"] as? Int ?? -1), "case \(id)")
                        #expect(bundle.logHeads[id16]?.last.bytes == Hex.decode(head["lastHash"] as? String ?? ""), "case \(id)")
                    }
                case "recoveryPut":
                    let body = try bytes("body"), slot = try bytes("slot"), blob = try bytes("blob")
                    let identity = try SigningKey(seed: SecretBytes(copying: try bytes("identitySeed")))
                    #expect(Recovery.derive(code: code)?.slot != nil, "case \(id)")
                    if let put = Recovery.openPutBody(body, slot: slot) {
                        #expect(put.owner == identity.verifyingKey && put.blob == blob, "case \(id)")
                        // Ed25519 is deterministic: signing the same slot and blob gives the same body.
                        #expect(Recovery.putBody(slot: slot, blob: blob, identity: identity) == body, "case \(id)")
                        #expect((try IdentityBundle.open(blob, using: key, purpose: "recovery")).name == "Alex", "case \(id)")
                    } else {
                        outcome = "authenticationFailure"
                    }
                default:
                    Issue.record("case \(id): unknown kind \(kind)")
                }
            } catch let error as WireError {
                outcome = error.name
            }
            #expect(outcome == expected, "case \(id)")
            if expected == "success" {
                #expect(Set(test.keys) == read, "case \(id): keys the runner did not read: \(Set(test.keys).subtracting(read).sorted())")
            } else {
                read.insert("sealed")
                #expect(Set(test.keys).subtracting(read).subtracting(["body", "blob", "slot", "identitySeed"]).isEmpty, "case \(id): keys")
            }
        }
        #expect(kinds == ["invite", "reply", "linkRequest", "bundleLink", "bundleRecovery", "recoveryPut"])
    }
}
