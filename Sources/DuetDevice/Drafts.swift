import DuetCrypto
import DuetStore
public import Foundation

/// Text the editor produced for an entry that could then not be written (too long, a full disk,
/// a journal kept busy): kept sealed in the home, so that the words are never lost (issue #16),
/// and offered again at the next `duet write`. One draft at a time: keeping another replaces it.
///
/// The file (`draft.sealed`) is `version (1) ‖ XChaCha20-Poly1305(JSON)` under a key derived
/// from the device's storage key: only this device, unlocked, opens it; no plaintext is written.
public struct Draft: Sendable, Equatable {
    /// The text as the editor left it (bytes: it may be what was refused for not being UTF-8).
    public let text: Data
    /// When it was kept, in milliseconds since the epoch.
    public let keptAt: UInt64
    /// The entry it was a new body for; nil for a new entry.
    public let entry: String?

    /// The largest draft kept: far beyond an entry's limit, so that the text refused for being
    /// too long is kept too, yet bounded when the file is read back.
    public static let maximumBytes = 16 << 20

    public init(text: Data, keptAt: UInt64, entry: String?) {
        self.text = text
        self.keptAt = keptAt
        self.entry = entry
    }
}

extension Draft {
    static let fileName = "draft.sealed"
    private static let version: UInt8 = 1
    private static let associatedData = Array("duet draft v1".utf8)

    static func path(home: String) -> String { home + "/" + fileName }

    /// Whether a draft is kept in `home` (no passphrase needed: nothing is opened).
    public static func isKept(home: String) -> Bool { FileManager.default.fileExists(atPath: path(home: home)) }

    private struct Payload: Codable {
        let text: Data
        let keptAt: UInt64
        let entry: String?
    }

    fileprivate func sealed(under key: SymmetricKey) throws(DeviceError) -> Data {
        guard text.count <= Self.maximumBytes else { throw .draftTooLarge(maximumBytes: Self.maximumBytes) }
        guard let plain = try? JSONEncoder().encode(Payload(text: text, keptAt: keptAt, entry: entry)) else {
            throw .storage(detail: "could not encode the draft")
        }
        var bytes = [UInt8](plain)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        return Data([Self.version] + AEAD.seal(SecretBytes(copying: bytes), using: key, associatedData: Self.associatedData))
    }

    /// Reads a sealed draft back; anything that does not open or decode is ``DeviceError/draftDamaged``.
    fileprivate static func opened(_ data: Data, under key: SymmetricKey) throws(DeviceError) -> Draft {
        guard data.count <= maximumBytes * 2 + 4096, data.first == version,
              let plain = try? AEAD.open([UInt8](data.dropFirst()), using: key, associatedData: associatedData),
              let payload = try? JSONDecoder().decode(Payload.self, from: Data(plain)),
              payload.text.count <= maximumBytes, payload.entry.map({ $0.utf8.count <= 64 }) ?? true else {
            throw .draftDamaged
        }
        return Draft(text: payload.text, keptAt: payload.keptAt, entry: payload.entry)
    }
}

extension UnlockedDevice {
    private var draftKey: SymmetricKey {
        KeyDerivation.deriveKey(from: unlocked.keystore.storageKey, subkeyID: 1, context: .draft)
    }

    /// Keeps `text` sealed as the draft (replacing any other), written whole or not at all.
    public func keepDraft(_ text: Data, entry: String? = nil) throws(DeviceError) {
        let draft = Draft(text: text, keptAt: environment.now, entry: entry)
        let sealed = try draft.sealed(under: draftKey)
        let path = Draft.path(home: device.home), temporary = path + ".partial"
        do {
            guard FileManager.default.createFile(atPath: temporary, contents: sealed, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.io, "cannot write \(temporary)")
            }
            // rename(2) replaces the old draft in one step: a crash leaves the old or the new.
            guard rename(temporary, path) == 0 else { throw StoreError(.io, "cannot keep the draft: \(String(cString: strerror(errno)))") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DeviceError.from(Home.classify(error, doing: "keep the draft"))
        }
    }

    /// The kept draft, if there is one.
    public func draft() throws(DeviceError) -> Draft? {
        let path = Draft.path(home: device.home)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .draftDamaged }
        defer { try? handle.close() }
        // Read at most one byte past the bound, so a huge file is refused without reading it all.
        let data = (try? handle.read(upToCount: Draft.maximumBytes * 2 + 4097)) ?? Data()
        return try Draft.opened(data, under: draftKey)
    }

    /// Removes the kept draft; false when there was none.
    @discardableResult
    public func discardDraft() throws(DeviceError) -> Bool {
        let path = Draft.path(home: device.home)
        guard FileManager.default.fileExists(atPath: path) else { return false }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw DeviceError.from(Home.classify(error, doing: "remove the draft"))
        }
        return true
    }
}
