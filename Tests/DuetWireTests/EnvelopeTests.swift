import Foundation
import Testing
@testable import DuetCrypto
import DuetWire

@Suite("Envelope")
struct EnvelopeTests {
    static let device = SigningKey.generate()
    static let contentKey = SymmetricKey.random()
    static let space = SpaceID.random()

    static func header(seq: UInt64, previous: Digest = .zero, space: SpaceID = space, epoch: UInt64 = 1) -> Envelope.Header {
        Envelope.Header(space: space, epoch: epoch, device: WireDeviceID(verifyingKey: device.verifyingKey), seq: seq, previous: previous)
    }

    @Test("Seal, parse, verify and open round-trip; the relay-visible size is padded")
    func roundTrip() throws {
        let plaintext = Array("a change".utf8)
        let envelope = Envelope.seal(plaintext, header: Self.header(seq: 1), contentKey: Self.contentKey, signingKey: Self.device)
        let parsed = try Envelope(bytes: envelope.bytes)
        #expect(parsed == envelope)
        try parsed.verify(signer: Self.device.verifyingKey)
        #expect(try parsed.open(contentKey: Self.contentKey) == plaintext)
        #expect(parsed.sealed.count == Padding.minimumPaddedCount + AEAD.overhead)
    }

    @Test("Every bit of an envelope is covered by its signature")
    func everyBitSigned() throws {
        let envelope = Envelope.seal(Array("we are okay".utf8), header: Self.header(seq: 3, previous: Hash.digest([1])),
                                     contentKey: Self.contentKey, signingKey: Self.device)
        for bit in 0..<(envelope.bytes.count * 8) {
            var bytes = envelope.bytes
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            // Either the structure no longer parses, or the signature (or the open) fails.
            if let tampered = try? Envelope(bytes: bytes) {
                #expect(throws: CryptoError.authenticationFailure, "bit \(bit)") {
                    try tampered.verify(signer: Self.device.verifyingKey)
                    _ = try tampered.open(contentKey: Self.contentKey)
                }
            }
        }
    }

    @Test("Sealed content replayed into another space, epoch or position does not open")
    func boundToItsPlace() throws {
        let original = Envelope.seal(Array("private".utf8), header: Self.header(seq: 1), contentKey: Self.contentKey, signingKey: Self.device)
        for header in [Self.header(seq: 1, space: SpaceID.random()), Self.header(seq: 1, epoch: 2),
                       Self.header(seq: 2, previous: original.hash)] {
            // A device re-signing old ciphertext under a new header: the signature is valid,
            // the content is not.
            let moved = try Self.reassemble(header: header, sealed: original.sealed)
            try moved.verify(signer: Self.device.verifyingKey)
            #expect(throws: CryptoError.authenticationFailure) { try moved.open(contentKey: Self.contentKey) }
        }
    }

    static func reassemble(header: Envelope.Header, sealed: [UInt8]) throws -> Envelope {
        var body = header.encoded
        var length = UInt64(sealed.count)
        while length >= 0x80 { body.append(UInt8(truncatingIfNeeded: length) | 0x80); length >>= 7 }
        body.append(UInt8(length))
        body += sealed
        return try Envelope(bytes: body + device.signature(for: body).bytes)
    }

    @Test("Random and truncated bytes never trap the parser")
    func parserNeverTraps() {
        let envelope = Envelope.seal(Array("x".utf8), header: Self.header(seq: 1), contentKey: Self.contentKey, signingKey: Self.device)
        for length in 0..<envelope.bytes.count {
            #expect(throws: WireError.self) { try Envelope(bytes: Array(envelope.bytes.prefix(length))) }
        }
        var state: UInt64 = 1
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let count = Int(state >> 58)
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: (state >> UInt64($0 % 56)) &+ UInt64($0)) }
            _ = try? Envelope(bytes: bytes)
        }
    }

    @Test("Protocol/vectors/wire-envelope.json: every case has its expected outcome")
    func vectors() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/vectors/wire-envelope.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(Set(root.keys) == ["kind", "format", "source", "notes", "tests"])
        let cases = try #require(root["tests"] as? [[String: Any]])
        #expect(cases.count >= 15)
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys).isSubset(of: ["id", "comment", "envelope", "signer", "contentKey", "plaintext", "hash", "result"]), "case \(id)")
            func bytes(_ key: String) throws -> [UInt8] { try #require(Hex.decode(test[key] as? String ?? "x"), "case \(id): \(key)") }
            let expected = try #require(test["result"] as? String)
            var outcome = "success"
            do {
                let envelope = try Envelope(bytes: try bytes("envelope"))
                let signer = try VerifyingKey(bytes: try bytes("signer"))
                try envelope.verify(signer: signer)
                let key = try SymmetricKey(bytes: SecretBytes(copying: try bytes("contentKey")))
                let plaintext = try envelope.open(contentKey: key)
                #expect(plaintext == (try bytes("plaintext")), "case \(id)")
                #expect(envelope.hash.bytes == (try bytes("hash")), "case \(id)")
            } catch let error as WireError {
                outcome = error.name
            } catch let error as CryptoError {
                outcome = error.name
            }
            #expect(outcome == expected, "case \(id)")
        }
    }
}
