public import DuetCrypto
import DuetEncoding

/// The two messages of a pairing (SPEC § 7.2), each sealed under the mailbox key both sides
/// derive from the code. The relay sees only their sizes; the code never reaches it.
public enum PairingMessages {
    public static let version: UInt8 = 1
    static let inviteContext = Array("duet pairing invite v1".utf8)
    static let replyContext = Array("duet pairing reply v1".utf8)

    /// What the inviter leaves in the invite mailbox.
    public struct Invite: Equatable, Sendable {
        public let space: SpaceID
        public let identity: VerifyingKey
        public let certificate: DeviceCertificate
        public let name: String
        /// BLAKE2b-256 of the couple space's last membership record when the invite was made:
        /// the invitee checks that the log it later reads starts with exactly these records.
        public let logHead: Digest
        public let logLength: UInt64

        public init(space: SpaceID, identity: VerifyingKey, certificate: DeviceCertificate, name: String, logHead: Digest, logLength: UInt64) {
            self.space = space
            self.identity = identity
            self.certificate = certificate
            self.name = name
            self.logHead = logHead
            self.logLength = logLength
        }
    }

    /// What the invitee answers in the reply mailbox.
    public struct Reply: Equatable, Sendable {
        public let identity: VerifyingKey
        public let certificate: DeviceCertificate
        public let name: String

        public init(identity: VerifyingKey, certificate: DeviceCertificate, name: String) {
            self.identity = identity
            self.certificate = certificate
            self.name = name
        }
    }

    public static func seal(_ invite: Invite, key: SymmetricKey) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(version)
        writer.raw(invite.space.bytes)
        writer.raw(invite.identity.bytes)
        writer.raw(invite.logHead.bytes)
        writer.varint(invite.logLength)
        write(invite.certificate, name: invite.name, into: &writer)
        return AEAD.seal(writer.bytes, using: key, associatedData: inviteContext)
    }

    public static func seal(_ reply: Reply, key: SymmetricKey) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(version)
        writer.raw(reply.identity.bytes)
        write(reply.certificate, name: reply.name, into: &writer)
        return AEAD.seal(writer.bytes, using: key, associatedData: replyContext)
    }

    /// Opens and checks an invite: the certificate must be signed by the identity it names,
    /// which must be the inviter's. Anything else is refused as a whole.
    public static func openInvite(_ sealed: [UInt8], key mailboxKey: SymmetricKey) throws(WireError) -> Invite {
        var reader = try open(sealed, key: mailboxKey, context: inviteContext)
        let space = try SpaceID(bytes: try reader.raw(16))
        let identity = try key(try reader.raw(32))
        let head: Digest
        do { head = try Digest(bytes: try reader.raw(32)) } catch { throw .malformed("log head") }
        let length = try reader.varint()
        // A log longer than clients read (10,000 records) cannot be the one the invite names.
        guard (1...10_000).contains(length) else { throw .malformed("an invite names a log of 1 to 10,000 records") }
        let (certificate, name) = try readCertificateAndName(&reader, identity: identity)
        return Invite(space: space, identity: identity, certificate: certificate, name: name, logHead: head, logLength: length)
    }

    public static func openReply(_ sealed: [UInt8], key mailboxKey: SymmetricKey) throws(WireError) -> Reply {
        var reader = try open(sealed, key: mailboxKey, context: replyContext)
        let identity = try key(try reader.raw(32))
        let (certificate, name) = try readCertificateAndName(&reader, identity: identity)
        return Reply(identity: identity, certificate: certificate, name: name)
    }

    private static func write(_ certificate: DeviceCertificate, name: String, into writer: inout ByteWriter) {
        let certificateBytes = certificate.encoded
        writer.varint(UInt64(certificateBytes.count))
        writer.raw(certificateBytes)
        let nameBytes = Array(name.utf8)
        writer.varint(UInt64(nameBytes.count))
        writer.raw(nameBytes)
    }

    private static func open(_ sealed: [UInt8], key: SymmetricKey, context: [UInt8]) throws(WireError) -> WireReader {
        let plain: [UInt8]
        do { plain = try AEAD.open(sealed, using: key, associatedData: context) } catch {
            throw .malformed("the message does not open with this code")
        }
        var reader = WireReader(plain)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        return reader
    }

    private static func readCertificateAndName(_ reader: inout WireReader, identity: VerifyingKey) throws(WireError) -> (DeviceCertificate, String) {
        let certificateLength = try reader.varint()
        guard certificateLength <= 512 else { throw .malformed("certificate too long") }
        let certificate = try DeviceCertificate(bytes: try reader.raw(Int(certificateLength)))
        let nameLength = try reader.varint()
        guard nameLength >= 1, nameLength <= 64 else { throw .malformed("a name is 1 to 64 bytes") }
        guard let name = String(validating: try reader.raw(Int(nameLength)), as: UTF8.self) else { throw .malformed("name is not UTF-8") }
        try reader.expectEnd()
        guard certificate.identity == identity else { throw .malformed("the device certificate names another identity") }
        do { try certificate.verify() } catch { throw .malformed("the device certificate's signature does not verify") }
        return (certificate, name)
    }
}
