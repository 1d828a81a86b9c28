import Testing
@testable import DuetCrypto

@Suite("Round trips")
struct RoundTripTests {
    static let samples: [Sample] = [
        Sample([]), Sample([0]), Sample(Array("a".utf8)),
        Sample(Array("Attunement: I saw that you were tired and I made tea. 🫖".utf8)),
        Sample([UInt8](repeating: 0xff, count: 4096)),
        Sample((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) }),
    ]

    /// A message to round-trip, named by its length in test output.
    struct Sample: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var testDescription: String { "\(bytes.count) bytes" }
    }

    @Test("AEAD seal then open gives the plaintext back, with fresh nonces each time", arguments: samples)
    func aead(sample: Sample) throws {
        let plaintext = sample.bytes
        let key = SymmetricKey.random()
        let first = AEAD.seal(plaintext, using: key, associatedData: [1, 2, 3])
        let second = AEAD.seal(plaintext, using: key, associatedData: [1, 2, 3])
        #expect(first.count == plaintext.count + AEAD.overhead)
        #expect(first != second, "a random nonce per message")
        #expect(try AEAD.open(first, using: key, associatedData: [1, 2, 3]) == plaintext)
        #expect(try AEAD.open(second, using: key, associatedData: [1, 2, 3]) == plaintext)
        #expect(try AEAD.openSecret(first, using: key, associatedData: [1, 2, 3]) == SecretBytes(copying: plaintext))
    }

    @Test("A wrapped key opens into the same key")
    func wrappedKey() throws {
        let wrapping = SymmetricKey.random(), content = SymmetricKey.random()
        let wrapped = AEAD.seal(content.bytes, using: wrapping, associatedData: Array("keystore".utf8))
        let opened = try SymmetricKey(bytes: AEAD.openSecret(wrapped, using: wrapping, associatedData: Array("keystore".utf8)))
        #expect(opened == content)
        #expect(opened != SymmetricKey.random())
    }

    @Test("Signing keys survive their seed; signatures are deterministic", arguments: samples)
    func signing(sample: Sample) throws {
        let message = sample.bytes
        let key = SigningKey.generate()
        let restored = try SigningKey(seed: key.seed)
        #expect(restored.verifyingKey == key.verifyingKey)
        #expect(restored.signature(for: message) == key.signature(for: message))
        #expect(key.verifyingKey.isValidSignature(restored.signature(for: message), for: message))
    }

    @Test("Sealed boxes open for their recipient, also via keys converted from Ed25519", arguments: samples)
    func sealedBox(sample: Sample) throws {
        let message = sample.bytes
        let device = SigningKey.generate()
        let recipient = BoxSecretKey(converting: device)
        let publicKey = try BoxPublicKey(converting: device.verifyingKey)
        #expect(publicKey == recipient.publicKey)
        let box = try SealedBox.seal(message, to: publicKey)
        #expect(box.count == message.count + SealedBox.overhead)
        #expect(try recipient.open(box) == message)
        let restored = try BoxSecretKey(bytes: recipient.bytes)
        #expect(try restored.openSecret(box) == SecretBytes(copying: message))
    }

    @Test("Padding round-trips every length from 0 to 2,100 and is never shorter than the minimum")
    func padding() throws {
        var previous = 0
        for length in 0...2100 {
            let message = [UInt8](repeating: 0x41, count: length)
            let padded = Padding.pad(message)
            #expect(padded.count == Padding.paddedCount(forMessageCount: length))
            #expect(padded.count >= max(Padding.minimumPaddedCount, length + 1))
            #expect(padded.count >= previous, "monotonic in the length")
            // Padmé's overhead bound: at most 12% past the first buckets.
            if length >= 256 { #expect(Double(padded.count) <= Double(length + 1) * 1.12) }
            #expect(try Padding.unpad(padded) == message)
            previous = padded.count
        }
    }

    @Test("Passphrase hashing is deterministic, salted, and keyed by the passphrase")
    func passphraseKDF() throws {
        let parameters = try PassphraseKDFParameters(
            opsLimit: PassphraseKDFParameters.minimumOpsLimit,
            memoryBytes: PassphraseKDFParameters.minimumMemoryBytes,
            salt: RandomBytes.make(count: PassphraseKDFParameters.saltByteCount))
        let passphrase = SecretBytes(utf8: "we keep choosing each other")
        let first = try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters)
        let again = try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters)
        #expect(first == again)
        let otherPassphrase = try PassphraseKDF.deriveKey(passphrase: SecretBytes(utf8: "we keep choosing each other!"), parameters: parameters)
        #expect(first != otherPassphrase)
        let otherSalt = try PassphraseKDFParameters(
            opsLimit: parameters.opsLimit, memoryBytes: parameters.memoryBytes,
            salt: RandomBytes.make(count: PassphraseKDFParameters.saltByteCount))
        #expect(try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: otherSalt) != first)
        #expect(try PassphraseKDFParameters(encoded: parameters.encoded) == parameters)
    }

    @Test("Parameters below the pinned minimum are refused however they arrive")
    func weakParametersRefused() {
        let salt = [UInt8](repeating: 1, count: PassphraseKDFParameters.saltByteCount)
        #expect(throws: CryptoError.weakParameters) {
            try PassphraseKDFParameters(opsLimit: 1, memoryBytes: 1 << 30, salt: salt)
        }
        #expect(throws: CryptoError.weakParameters) {
            try PassphraseKDFParameters(opsLimit: 4, memoryBytes: PassphraseKDFParameters.minimumMemoryBytes - 1024, salt: salt)
        }
        #expect(throws: CryptoError.invalidLength) {
            try PassphraseKDFParameters(opsLimit: 3, memoryBytes: 256 << 20, salt: [1, 2, 3])
        }
        let defaults = PassphraseKDFParameters.makeDefault()
        #expect(defaults.opsLimit >= PassphraseKDFParameters.minimumOpsLimit)
        #expect(defaults.memoryBytes >= PassphraseKDFParameters.minimumMemoryBytes)
        #expect(defaults.salt != PassphraseKDFParameters.makeDefault().salt, "a fresh salt each time")
    }

    @Test("Each purpose has its own KDF context, and contexts give unrelated keys")
    func kdfContextsAreDistinct() {
        let master = SymmetricKey.random()
        let contexts = KeyDerivation.Context.allCases
        #expect(Set(contexts.map(\.label)).count == contexts.count)
        let keys = contexts.map { KeyDerivation.deriveKey(from: master, subkeyID: 1, context: $0) }
        for i in keys.indices {
            for j in keys.indices where j != i { #expect(keys[i] != keys[j]) }
            #expect(keys[i] != KeyDerivation.deriveKey(from: master, subkeyID: 2, context: contexts[i]))
            #expect(keys[i] == KeyDerivation.deriveKey(from: master, subkeyID: 1, context: contexts[i]))
        }
    }

    @Test("Digests of parts equal the digest of their concatenation")
    func digestParts() {
        let a: [UInt8] = Array("safety".utf8), b: [UInt8] = Array("comfort".utf8)
        #expect(Hash.digest(a, b) == Hash.digest(a + b))
        #expect(Hash.digest(a, b) != Hash.digest(b, a))
        #expect(Hash.digest([]).bytes.count == Digest.byteCount)
    }

    @Test("A MAC is keyed BLAKE2b-256 of its parts (the vectors' construction); only the same key, parts and tag verify")
    func macs() throws {
        let key = SymmetricKey.random()
        let a: [UInt8] = Array("an export's item".utf8), b: [UInt8] = Array("its snapshot".utf8)
        let tag = MAC.tag(a, b, key: key)
        let keyBytes = key.bytes.withUnsafeBytes { Array($0) }
        #expect(tag == Hash.blake2b([a + b], byteCount: 32, key: keyBytes), "crypto-blake2b.json's keyed cases cover it")
        #expect(MAC.verify(tag, a, b, key: key))
        #expect(MAC.verify(tag, a + b, key: key), "parts are concatenated")
        #expect(!MAC.verify(tag, b, a, key: key))
        #expect(!MAC.verify(tag, a, b, key: SymmetricKey.random()))
        var flipped = tag
        flipped[31] ^= 1
        #expect(!MAC.verify(flipped, a, b, key: key))
        #expect(!MAC.verify(Array(tag.prefix(31)), a, b, key: key), "another length is not the tag")
        #expect(!MAC.verify([], a, b, key: key))
    }

    @Test("Random bytes differ between calls")
    func randomBytes() {
        #expect(RandomBytes.make(count: 32) != RandomBytes.make(count: 32))
        #expect(RandomBytes.make(count: 0).isEmpty)
        var source = SystemRandomSource()
        #expect(source.next() != source.next() || source.next() != source.next())
    }
}
