import Testing
@testable import DuetCrypto

/// A single flipped bit anywhere in what is authenticated must be refused — every bit position
/// of one message, not a sample.
@Suite("Tampering")
struct TamperTests {
    static let key = SymmetricKey.random()
    static let plaintext = Array("I noticed you left the light on for me tonight. Thank you.".utf8)
    static let associatedData = Array("space:couple epoch:1 device:7 seq:42".utf8)

    @Test("Every bit of nonce, ciphertext and tag of one AEAD message is authenticated")
    func aeadEveryBitOfSealedMessage() throws {
        let sealed = AEAD.seal(Self.plaintext, using: Self.key, associatedData: Self.associatedData)
        #expect(try AEAD.open(sealed, using: Self.key, associatedData: Self.associatedData) == Self.plaintext)
        var refused = 0
        for bit in 0..<(sealed.count * 8) {
            let tampered = flipping(bit: bit, of: sealed)
            #expect(throws: CryptoError.authenticationFailure, "bit \(bit) of the sealed message") {
                try AEAD.open(tampered, using: Self.key, associatedData: Self.associatedData)
            }
            refused += 1
        }
        // nonce (24) + plaintext + tag (16), all of it.
        #expect(refused == (AEAD.overhead + Self.plaintext.count) * 8)
    }

    @Test("Every bit of the associated data is authenticated")
    func aeadEveryBitOfAssociatedData() throws {
        let sealed = AEAD.seal(Self.plaintext, using: Self.key, associatedData: Self.associatedData)
        for bit in 0..<(Self.associatedData.count * 8) {
            let tampered = flipping(bit: bit, of: Self.associatedData)
            #expect(throws: CryptoError.authenticationFailure, "bit \(bit) of the associated data") {
                try AEAD.open(sealed, using: Self.key, associatedData: tampered)
            }
        }
        #expect(throws: CryptoError.authenticationFailure, "associated data dropped") {
            try AEAD.open(sealed, using: Self.key, associatedData: [])
        }
        #expect(throws: CryptoError.authenticationFailure, "associated data extended") {
            try AEAD.open(sealed, using: Self.key, associatedData: Self.associatedData + [0])
        }
    }

    @Test("A wrong key and every truncation are refused with the same opaque error")
    func aeadWrongKeyAndTruncation() throws {
        let sealed = AEAD.seal(Self.plaintext, using: Self.key, associatedData: Self.associatedData)
        #expect(throws: CryptoError.authenticationFailure) {
            try AEAD.open(sealed, using: SymmetricKey.random(), associatedData: Self.associatedData)
        }
        for length in 0..<sealed.count {
            #expect(throws: CryptoError.authenticationFailure, "truncated to \(length) bytes") {
                try AEAD.open(Array(sealed.prefix(length)), using: Self.key, associatedData: Self.associatedData)
            }
        }
        #expect(throws: CryptoError.authenticationFailure, "a byte appended") {
            try AEAD.open(sealed + [0], using: Self.key, associatedData: Self.associatedData)
        }
    }

    @Test("Every bit of an Ed25519 signature, its message and its key is checked")
    func signatureEveryBit() throws {
        let signer = SigningKey.generate()
        let message = Self.associatedData + Self.plaintext
        let signature = signer.signature(for: message)
        try signer.verifyingKey.verify(signature, for: message)
        for bit in 0..<(Signature.byteCount * 8) {
            let tampered = try Signature(bytes: flipping(bit: bit, of: signature.bytes))
            #expect(throws: CryptoError.authenticationFailure, "bit \(bit) of the signature") {
                try signer.verifyingKey.verify(tampered, for: message)
            }
        }
        for bit in 0..<(message.count * 8) {
            #expect(!signer.verifyingKey.isValidSignature(signature, for: flipping(bit: bit, of: message)),
                    "bit \(bit) of the message")
        }
        for bit in 0..<(VerifyingKey.byteCount * 8) {
            let otherKey = try VerifyingKey(bytes: flipping(bit: bit, of: signer.verifyingKey.bytes))
            #expect(!otherKey.isValidSignature(signature, for: message), "bit \(bit) of the public key")
        }
        #expect(throws: CryptoError.authenticationFailure, "another signer's key") {
            try SigningKey.generate().verifyingKey.verify(signature, for: message)
        }
    }

    @Test("Every bit of a sealed box is authenticated, and only its recipient can open it")
    func sealedBoxEveryBit() throws {
        let recipient = BoxSecretKey.generate()
        let box = try SealedBox.seal(Self.plaintext, to: recipient.publicKey)
        #expect(try recipient.open(box) == Self.plaintext)
        for bit in 0..<(box.count * 8) {
            #expect(throws: CryptoError.authenticationFailure, "bit \(bit) of the box") {
                try recipient.open(flipping(bit: bit, of: box))
            }
        }
        #expect(throws: CryptoError.authenticationFailure) { try BoxSecretKey.generate().open(box) }
    }

    @Test("Unpadding accepts only canonical padding: no bit flip yields the original message")
    func paddingEveryBit() throws {
        let padded = Padding.pad(Self.plaintext)
        for bit in 0..<(padded.count * 8) {
            let tampered = flipping(bit: bit, of: padded)
            do {
                // A flip can turn the block into the canonical padding of another message (a zero
                // becoming the marker); it can never be read back as the original message.
                let message = try Padding.unpad(tampered)
                #expect(message != Self.plaintext, "bit \(bit)")
                #expect(Padding.pad(message) == tampered, "bit \(bit): accepted only if canonical")
            } catch {
                #expect(error == .malformedPadding, "bit \(bit)")
            }
        }
    }
}

func flipping(bit: Int, of bytes: [UInt8]) -> [UInt8] {
    var copy = bytes
    copy[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
    return copy
}
