import Foundation
import Testing
@testable import DuetCrypto

/// One runner for every `Protocol/vectors/crypto-*.json` file. Each file names its `kind`; a
/// kind, a top-level key or a case key this runner does not know fails the run.
@Suite("Crypto test vectors")
struct CryptoVectorTests {
    static let runners: [String: @Sendable (VectorObject) throws -> Int] = [
        "aead": runAEAD,
        "ed25519": runEd25519,
        "sealedbox": runSealedBox,
        "argon2id": runArgon2id,
        "kdf": runKDF,
        "blake2b": runBLAKE2b,
        "padding": runPadding,
    ]

    @Test("Every crypto vector file is read, and every case has its expected outcome")
    func allVectorFiles() throws {
        let files = try VectorFiles.named(withPrefix: "crypto")
        #expect(files.count == Self.runners.count, "one file per kind: \(files.map(\.lastPathComponent))")
        var kindsSeen: Set<String> = []
        for file in files {
            let document = try VectorFiles.load(file)
            let kind = try document.string("kind")
            let runner = try #require(Self.runners[kind], "\(file.lastPathComponent): unknown kind \(kind)")
            _ = try document.string("algorithm")
            _ = try document.string("notes")
            if document.has("layout") { _ = try document.string("layout") }
            #expect(try !document.strings("source").isEmpty, "\(file.lastPathComponent) names its sources")
            let count = try runner(document)
            #expect(count > 0, "\(file.lastPathComponent) has cases")
            try document.requireAllKeysRead()
            kindsSeen.insert(kind)
        }
        #expect(kindsSeen == Set(Self.runners.keys))
    }

    @Test("The strict reader refuses a case with an unknown key")
    func unknownKeyFails() throws {
        let object = try VectorObject(["id": 1, "result": "success", "extra": "x"], context: "synthetic")
        _ = try object.int("id")
        _ = try object.expectedResult()
        #expect(throws: VectorError.self) { try object.requireAllKeysRead() }
    }

    // MARK: - Runners

    static func runAEAD(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let keyBytes = try test.bytes("key")
            let aad = try test.bytes("aad")
            let nonce = try test.optionalBytes("nonce")
            let plaintext = try test.optionalBytes("plaintext")
            let sealed = try test.optionalBytes("sealed")
            try test.requireAllKeysRead()
            let result = outcome {
                let key = try SymmetricKey(bytes: SecretBytes(copying: keyBytes))
                if let nonce, let plaintext {
                    // Known answer: sealing is deterministic given the nonce.
                    let produced = try AEAD.seal(plaintext, using: key, nonce: nonce, associatedData: aad)
                    if let sealed { #expect(produced == sealed, "\(test.context)") }
                    #expect(try AEAD.open(produced, using: key, associatedData: aad) == plaintext, "\(test.context)")
                } else {
                    _ = try AEAD.open(sealed ?? [], using: key, associatedData: aad)
                }
            }
            #expect(result == expected, "\(test.context)")
        }
        return cases.count
    }

    static func runEd25519(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let publicKeyBytes = try test.bytes("publicKey")
            let message = try test.bytes("message")
            let signatureBytes = try test.bytes("signature")
            let seed = test.has("seed") ? try test.bytes("seed") : nil
            let result = outcome {
                if let seed {
                    let key = try SigningKey(seed: SecretBytes(copying: seed))
                    #expect(key.verifyingKey.bytes == publicKeyBytes, "\(test.context): public key from seed")
                    #expect(key.signature(for: message).bytes == signatureBytes, "\(test.context): signature")
                }
                let publicKey = try VerifyingKey(bytes: publicKeyBytes)
                try publicKey.verify(try Signature(bytes: signatureBytes), for: message)
            }
            #expect(result == expected, "\(test.context)")
            try test.requireAllKeysRead()
        }
        return cases.count
    }

    static func runSealedBox(_ document: VectorObject) throws -> Int {
        let conversions = try document.objects("conversions")
        for test in conversions {
            _ = try test.int("id"); _ = try test.string("comment")
            #expect(try test.expectedResult() == "success")
            let signing = try SigningKey(seed: SecretBytes(copying: try test.bytes("seed")))
            let box = BoxSecretKey(converting: signing)
            #expect(box.publicKey.bytes == (try test.bytes("x25519PublicKey")), "\(test.context)")
            #expect(box.bytes == SecretBytes(copying: try test.bytes("x25519SecretKey")), "\(test.context)")
            #expect(try BoxPublicKey(converting: signing.verifyingKey) == box.publicKey, "\(test.context)")
            try test.requireAllKeysRead()
        }
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let secretBytes = try test.optionalBytes("recipientSecretKey")
            let publicBytes = try test.optionalBytes("recipientPublicKey")
            let box = try test.optionalBytes("box")
            let message = try test.optionalBytes("message")
            try test.requireAllKeysRead()
            let result = outcome {
                if let secretBytes, let box {
                    let secret = try BoxSecretKey(bytes: SecretBytes(copying: secretBytes))
                    if let publicBytes { #expect(secret.publicKey.bytes == publicBytes, "\(test.context)") }
                    let opened = try secret.open(box)
                    #expect(opened == message, "\(test.context)")
                } else {
                    let recipient = try BoxPublicKey(bytes: publicBytes ?? [])
                    _ = try SealedBox.seal(message ?? [], to: recipient)
                }
            }
            #expect(result == expected, "\(test.context)")
        }
        return conversions.count + cases.count
    }

    static func runArgon2id(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let passphrase = SecretBytes(copying: try test.bytes("passphrase"))
            let salt = try test.bytes("salt")
            let ops = try test.int("opsLimit"), memory = try test.int("memoryBytes")
            let output = test.has("output") ? try test.bytes("output") : nil
            let length = try output?.count ?? test.int("outputLength")
            let result = outcome {
                let derived = try PassphraseKDF.argon2id(
                    passphrase: passphrase, salt: salt, opsLimit: UInt64(ops), memoryBytes: memory,
                    outputByteCount: length)
                #expect(derived == SecretBytes(copying: output ?? []), "\(test.context)")
            }
            #expect(result == expected, "\(test.context)")
            try test.requireAllKeysRead()
        }
        let parameters = try document.objects("parameters")
        for test in parameters {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let encoded = try test.bytes("encoded")
            let result = outcome {
                let decoded = try PassphraseKDFParameters(encoded: encoded)
                #expect(decoded.opsLimit == UInt64(try test.int("opsLimit")), "\(test.context)")
                #expect(decoded.memoryBytes == (try test.int("memoryBytes")), "\(test.context)")
                #expect(decoded.salt == (try test.bytes("salt")), "\(test.context)")
                #expect(decoded.encoded == encoded, "\(test.context): re-encoding is byte-identical")
            }
            #expect(result == expected, "\(test.context)")
            try test.requireAllKeysRead()
        }
        return cases.count + parameters.count
    }

    static func runKDF(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            #expect(try test.expectedResult() == "success")
            let master = try SymmetricKey(bytes: SecretBytes(copying: try test.bytes("masterKey")))
            let subkey = try #require(UInt64(try test.string("subkeyId")), "\(test.context): subkeyId")
            let output = try test.bytes("output")
            let derived = KeyDerivation.deriveBytes(
                count: output.count, from: master, subkeyID: subkey, context: try test.string("context"))
            #expect(derived == SecretBytes(copying: output), "\(test.context)")
            try test.requireAllKeysRead()
        }
        return cases.count
    }

    static func runBLAKE2b(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            #expect(try test.expectedResult() == "success")
            let output = try test.bytes("output")
            let key = try test.bytes("key")
            let digest = Hash.blake2b([try test.bytes("message")], byteCount: output.count, key: key.isEmpty ? nil : key)
            #expect(digest == output, "\(test.context)")
            try test.requireAllKeysRead()
        }
        return cases.count
    }

    static func runPadding(_ document: VectorObject) throws -> Int {
        let cases = try document.objects("tests")
        for test in cases {
            _ = try test.int("id"); _ = try test.string("comment")
            let expected = try test.expectedResult()
            let padded = try test.bytes("padded")
            let message = try test.optionalBytes("message")
            try test.requireAllKeysRead()
            let result = outcome {
                if let message { #expect(Padding.pad(message) == padded, "\(test.context): pad") }
                let unpadded = try Padding.unpad(padded)
                if let message { #expect(unpadded == message, "\(test.context): unpad") }
            }
            #expect(result == expected, "\(test.context)")
        }
        return cases.count
    }
}
