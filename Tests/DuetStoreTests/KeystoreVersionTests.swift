import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// Stores made before keystore version 2 (session 1's) hold a version-1 keystore: no keys of
/// other spaces, no recovery slot. Nothing writes version 1 any more, so these bytes are built
/// here, field by field, from the layout version 1 had.
@Suite("Keystore versions")
struct KeystoreVersionTests {
    static let parameters = try! PassphraseKDFParameters(
        opsLimit: PassphraseKDFParameters.minimumOpsLimit, memoryBytes: PassphraseKDFParameters.minimumMemoryBytes,
        salt: [UInt8](repeating: 9, count: PassphraseKDFParameters.saltByteCount))
    static let passphrase = SecretBytes(utf8: "an old passphrase")

    /// version 1 ‖ identity seed ‖ device seed ‖ storage key ‖ personal space ‖ keys ‖ name.
    static func versionOne(name: String, epochs: [UInt64], trailing: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [1]
        bytes += [UInt8](repeating: 0x11, count: 32)  // identity seed
        bytes += [UInt8](repeating: 0x22, count: 32)  // device seed
        bytes += [UInt8](repeating: 0x33, count: 32)  // storage key
        bytes += [UInt8](repeating: 0x44, count: 16)  // personal space
        bytes.append(UInt8(epochs.count))
        for epoch in epochs {
            bytes += (0..<8).map { UInt8(truncatingIfNeeded: epoch >> (56 - 8 * UInt64($0))) }
            bytes += [UInt8](repeating: UInt8(0x50 + epoch), count: 32)
        }
        let nameBytes = Array(name.utf8)
        bytes += [UInt8(nameBytes.count >> 8), UInt8(nameBytes.count & 0xff)] + nameBytes
        return bytes + trailing
    }

    static func sealed(_ plaintext: [UInt8]) throws -> [UInt8] {
        let key = try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters)
        return AEAD.seal(plaintext, using: key, associatedData: Array("duet keystore v1".utf8) + parameters.encoded)
    }

    @Test("A version-1 keystore opens with its identity, device, storage key, space and keys, and nothing else")
    func versionOneOpens() throws {
        let keystore = try Keystore.open(sealed: try Self.sealed(Self.versionOne(name: "Alex", epochs: [1, 2])),
                                         parameters: Self.parameters, passphrase: Self.passphrase)
        #expect(keystore.name == "Alex")
        #expect(keystore.identity.seed == SecretBytes(copying: [UInt8](repeating: 0x11, count: 32)))
        #expect(keystore.device.seed == SecretBytes(copying: [UInt8](repeating: 0x22, count: 32)))
        #expect(keystore.storageKey.bytes == SecretBytes(copying: [UInt8](repeating: 0x33, count: 32)))
        #expect(keystore.personalSpace.bytes == [UInt8](repeating: 0x44, count: 16))
        #expect(keystore.personalKeys.keys.sorted() == [1, 2])
        #expect(keystore.personalKeys[2]?.bytes == SecretBytes(copying: [UInt8](repeating: 0x52, count: 32)))
        #expect(keystore.otherKeys.isEmpty)
        #expect(keystore.recovery == nil)
    }

    @Test("A version-1 keystore with bytes after its name, or cut short, is refused as corrupt")
    func versionOneMalformed() throws {
        let whole = Self.versionOne(name: "Alex", epochs: [1])
        for bytes in [Self.versionOne(name: "Alex", epochs: [1], trailing: [0]), Array(whole.dropLast()), Array(whole.prefix(60))] {
            #expect(throws: StoreError.self) {
                try Keystore.open(sealed: try Self.sealed(bytes), parameters: Self.parameters, passphrase: Self.passphrase)
            }
        }
    }
}
