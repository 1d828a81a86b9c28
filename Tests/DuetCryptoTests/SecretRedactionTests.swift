import Testing
@testable import DuetCrypto

/// Secrets must not leak through any of the ways Swift turns a value into text.
@Suite("Secret redaction")
struct SecretRedactionTests {
    /// A secret whose hex, decimal and text forms are all easy to spot.
    static let marker: [UInt8] = Array("TOPSECRET-passphrase-0123456789ab".utf8)

    static func renderings(of value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [
            String(describing: value), String(reflecting: value), "\(value)", dumped,
            "\([value])", "\(Optional(value) as Any)",
        ]
    }

    static func assertNoLeak(_ value: Any, secret: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let forms = [
            String(decoding: secret, as: UTF8.self), Hex.encode(secret), Hex.encode(secret).uppercased(),
            secret.map(String.init).joined(separator: ", "),
        ].filter { $0.count >= 8 }
        // The bytes may appear neither as text nor as hex nor as a Swift array literal; for short
        // secrets also check windows of them, so a truncated rendering cannot leak either.
        for rendering in renderings(of: value) {
            for form in forms {
                #expect(!rendering.contains(form), "leaked: \(rendering)", sourceLocation: sourceLocation)
            }
            #expect(rendering.contains("redacted"), "says it is redacted: \(rendering)", sourceLocation: sourceLocation)
        }
    }

    @Test("SecretBytes shows only its length")
    func secretBytes() {
        let secret = SecretBytes(copying: Self.marker)
        Self.assertNoLeak(secret, secret: Self.marker)
        #expect(secret.description == "SecretBytes(\(Self.marker.count) bytes, redacted)")
    }

    @Test("SymmetricKey, SigningKey and BoxSecretKey hide their secret halves")
    func keys() throws {
        let key = try SymmetricKey(bytes: SecretBytes(copying: Self.marker.prefix(32)))
        Self.assertNoLeak(key, secret: Array(Self.marker.prefix(32)))
        let signing = SigningKey.generate()
        let seed = signing.seed.withUnsafeBytes { Array($0) }
        Self.assertNoLeak(signing, secret: seed)
        let box = BoxSecretKey.generate()
        let boxSecret = box.bytes.withUnsafeBytes { Array($0) }
        Self.assertNoLeak(box, secret: boxSecret)
    }

    @Test("Equality is by content and length")
    func equality() {
        let a = SecretBytes(copying: Self.marker)
        #expect(a == SecretBytes(copying: Self.marker))
        #expect(a != SecretBytes(copying: Self.marker.dropLast()))
        #expect(a != SecretBytes(copying: flipping(bit: 77, of: Self.marker)))
        #expect(SecretBytes(copying: []) == SecretBytes(copying: []))
    }

    @Test("consuming init erases the caller's copy")
    func consumingErasesSource() {
        var source = Self.marker
        let secret = SecretBytes(consuming: &source)
        #expect(source.isEmpty)
        #expect(secret == SecretBytes(copying: Self.marker))
    }

    @Test("Errors say what to do and carry no data")
    func errorMessages() {
        for code in CryptoError.Code.allCases {
            let error = CryptoError(testCode: code)
            #expect(error.description.count > 30)
            #expect(!error.description.contains("\n"))
            #expect(error.name == code.rawValue)
        }
    }
}
