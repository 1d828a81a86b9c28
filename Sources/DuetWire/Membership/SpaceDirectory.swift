public import DuetCrypto
import DuetEncoding

/// What a person tells the other members of a space about themselves, sealed under the space's
/// content key so the relay learns none of it (SPEC § 6.2, action 7): their name, their devices'
/// names, and — in their personal space, for their own other devices — the couple space they
/// joined. A directory names only devices its signer certified; readers ignore any other.
public struct SpaceDirectory: Equatable, Sendable {
    public static let version: UInt8 = 1
    /// The most devices one directory names: an identity holds at most this many at once.
    public static let maximumDevices = MembershipLog.maximumDevicesPerIdentity
    /// The most bytes a sealed directory takes (a record is at most 4 KiB; sixteen 64-byte
    /// device names, padded and sealed, fit).
    public static let maximumSealedBytes = 3072
    static let context = Array("duet directory v1".utf8)

    /// The couple space this person joined, announced to their own other devices.
    public struct Couple: Equatable, Sendable {
        public let space: SpaceID
        public let partner: VerifyingKey
        public let partnerName: String
        public init(space: SpaceID, partner: VerifyingKey, partnerName: String) {
            self.space = space
            self.partner = partner
            self.partnerName = partnerName
        }
    }

    public let personName: String
    public let deviceNames: [VerifyingKey: String]
    public let couple: Couple?

    public init(personName: String, deviceNames: [VerifyingKey: String], couple: Couple? = nil) {
        self.personName = personName
        self.deviceNames = deviceNames
        self.couple = couple
    }

    /// version ‖ name ‖ u8 count ‖ (device key ‖ name)* ‖ u8 (0 | 1) [space ‖ partner ‖ name];
    /// name = u8 len (1–64) ‖ UTF-8, devices ascending by key.
    public func seal(space: SpaceID, signer: VerifyingKey, contentKey: SymmetricKey) throws(WireError) -> [UInt8] {
        guard deviceNames.count <= Self.maximumDevices else { throw .tooLarge(limit: Self.maximumDevices) }
        var writer = ByteWriter()
        writer.byte(Self.version)
        try Self.write(personName, into: &writer)
        writer.byte(UInt8(truncatingIfNeeded: deviceNames.count))
        for device in deviceNames.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            writer.raw(device.bytes)
            try Self.write(deviceNames[device] ?? "", into: &writer)
        }
        if let couple {
            writer.byte(1)
            writer.raw(couple.space.bytes)
            writer.raw(couple.partner.bytes)
            try Self.write(couple.partnerName, into: &writer)
        } else {
            writer.byte(0)
        }
        let sealed = AEAD.seal(Padding.pad(writer.bytes), using: contentKey, associatedData: Self.context + space.bytes + signer.bytes)
        guard sealed.count <= Self.maximumSealedBytes else { throw .tooLarge(limit: Self.maximumSealedBytes) }
        return sealed
    }

    /// Opens a directory `signer` sealed for `space`; anything altered, moved or malformed is refused whole.
    public static func open(_ sealed: [UInt8], space: SpaceID, signer: VerifyingKey, contentKey: SymmetricKey) throws(WireError) -> SpaceDirectory {
        let plain: [UInt8]
        do { plain = try Padding.unpad(try AEAD.open(sealed, using: contentKey, associatedData: context + space.bytes + signer.bytes)) } catch {
            throw .malformed("the directory does not open")
        }
        var reader = WireReader(plain)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let personName = try read(&reader)
        let count = try reader.byte()
        guard Int(count) <= maximumDevices else { throw .tooLarge(limit: maximumDevices) }
        var names: [VerifyingKey: String] = [:]
        for _ in 0..<count {
            let device = try key(try reader.raw(32))
            guard names[device] == nil else { throw .malformed("a device named twice") }
            names[device] = try read(&reader)
        }
        var couple: Couple?
        switch try reader.byte() {
        case 0: break
        case 1:
            let space = try SpaceID(bytes: try reader.raw(SpaceID.byteCount))
            let partner = try key(try reader.raw(32))
            couple = Couple(space: space, partner: partner, partnerName: try read(&reader))
        default: throw .malformed("couple flag")
        }
        try reader.expectEnd()
        return SpaceDirectory(personName: personName, deviceNames: names, couple: couple)
    }

    private static func write(_ name: String, into writer: inout ByteWriter) throws(WireError) {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { throw .malformed("a name is 1 to 64 bytes") }
        writer.byte(UInt8(truncatingIfNeeded: bytes.count))
        writer.raw(bytes)
    }

    private static func read(_ reader: inout WireReader) throws(WireError) -> String {
        let length = try reader.byte()
        guard (1...64).contains(length), let name = String(validating: try reader.raw(Int(length)), as: UTF8.self) else {
            throw .malformed("a name is 1 to 64 bytes of UTF-8")
        }
        return name
    }
}
