public import DuetCrypto
import DuetEncoding

/// A person's identity key vouching for one of their devices (SPEC § 6.2): keys and times only.
/// The device's name travels sealed, in the space's directory record, never where the relay
/// reads it.
public struct DeviceCertificate: Hashable, Sendable {
    public static let version: UInt8 = 1
    /// The latest time a certificate may name (the HLC's 48-bit millisecond range, SPEC § 6.2).
    public static let maximumTime: UInt64 = (1 << 48) - 1
    static let context = Array("duet device certificate v1".utf8)

    public let identity: VerifyingKey
    public let device: VerifyingKey
    public let created: UInt64
    /// 0 means the certificate does not expire.
    public let expires: UInt64
    public let signature: Signature

    /// Issues a certificate for `device`, signed by `identity`.
    public static func issue(identity: SigningKey, device: VerifyingKey, created: UInt64, expires: UInt64 = 0) -> DeviceCertificate {
        let body = encodeBody(identity: identity.verifyingKey, device: device, created: created, expires: expires)
        return DeviceCertificate(identity: identity.verifyingKey, device: device, created: created, expires: expires,
                                 signature: identity.signature(for: context + body))
    }

    private init(identity: VerifyingKey, device: VerifyingKey, created: UInt64, expires: UInt64, signature: Signature) {
        self.identity = identity
        self.device = device
        self.created = created
        self.expires = expires
        self.signature = signature
    }

    static func encodeBody(identity: VerifyingKey, device: VerifyingKey, created: UInt64, expires: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(version)
        writer.raw(identity.bytes)
        writer.raw(device.bytes)
        writer.varint(created)
        writer.varint(expires)
        return writer.bytes
    }

    public var encoded: [UInt8] {
        Self.encodeBody(identity: identity, device: device, created: created, expires: expires) + signature.bytes
    }

    /// Parses a certificate from `reader` (structure only; see ``verify()``).
    static func read(_ reader: inout WireReader) throws(WireError) -> DeviceCertificate {
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let identity = try key(try reader.raw(32)), device = try key(try reader.raw(32))
        let created = try reader.varint(), expires = try reader.varint()
        // Milliseconds within the hybrid logical clock's 48 bits: stores keep times as signed
        // 64-bit integers, and a time past that range is no time anyone's clock reads.
        guard created <= Self.maximumTime, expires <= Self.maximumTime else {
            throw .malformed("certificate times are milliseconds up to 2^48 - 1")
        }
        let signatureBytes = try reader.raw(Signature.byteCount)
        let signature: Signature
        do { signature = try Signature(bytes: signatureBytes) } catch { throw .malformed("signature") }
        return DeviceCertificate(identity: identity, device: device, created: created, expires: expires, signature: signature)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        var reader = WireReader(bytes)
        self = try Self.read(&reader)
        try reader.expectEnd()
    }

    /// Checks the identity's signature. Any failure is the one opaque authentication failure.
    public func verify() throws(CryptoError) {
        let body = Self.encodeBody(identity: identity, device: device, created: created, expires: expires)
        try identity.verify(signature, for: Self.context + body)
    }

    public func isValid(at time: UInt64) -> Bool { expires == 0 || time < expires }
}

func key(_ bytes: [UInt8]) throws(WireError) -> VerifyingKey {
    do { return try VerifyingKey(bytes: bytes) } catch { throw .malformed("a public key is 32 bytes") }
}
