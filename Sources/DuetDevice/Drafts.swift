import DuetCrypto
import DuetStore
public import Foundation

/// Text the editor produced for an entry that could then not be written (too long, a full disk,
/// a journal kept busy, an editor that failed after saving): kept sealed in the home, so that
/// the words are never lost (issue #16), and offered again at the next `duet write` made with
/// the same options. Each draft is a file of its own in `drafts/`: keeping one never replaces
/// another.
///
/// A file is `version (1) ‖ XChaCha20-Poly1305(JSON)` under a key derived from the device's
/// storage key: only this device, unlocked, opens it; no plaintext is written. Its name is
/// `<kept at, ms>-<pid>.sealed`: unique among the processes that keep one.
public struct Draft: Sendable, Equatable {
    /// The file's name without `.sealed`: what `duet draft show ID` takes.
    public let id: String
    /// The text as the editor left it (bytes: it may be what was refused for not being UTF-8).
    public let text: Data
    /// When it was kept, in milliseconds since the epoch.
    public let keptAt: UInt64
    /// The entry it was a new body for; nil for a new entry.
    public let entry: String?
    /// The write's options that decide where it goes: resumed only by a write that gives the
    /// same ones (a private draft never reopens into `--shared`).
    public let shared: Bool
    public let replyTo: String?

    /// The largest draft kept: far beyond an entry's limit, so that the text refused for being
    /// too long is kept too, yet bounded when the file is read back.
    public static let maximumBytes = 16 << 20
    /// The most drafts a home keeps (a loop of failing writes must not fill the disk).
    public static let maximumCount = 100
}

/// Drafts that could not be opened (damaged, another device's), by id: named, never fatal.
public struct DraftListing: Sendable {
    public let drafts: [Draft]
    public let damaged: [String]
}

/// A draft taken by one `duet write` while its editor is open, so that no other process resumes
/// or discards it meanwhile: renamed to `<id>.sealed.claimed-<pid>`. ``finish()`` removes it once
/// its words are written or kept anew; ``release()`` gives it back. A claim whose process is gone
/// (SIGKILL) counts as a draft again.
public final class ClaimedDraft: Sendable {
    public let draft: Draft
    private let claimedPath: String
    private let originalPath: String

    init(draft: Draft, claimedPath: String, originalPath: String) {
        self.draft = draft
        self.claimedPath = claimedPath
        self.originalPath = originalPath
    }

    /// Its words are safe elsewhere (written, or kept as a newer draft).
    public func finish() { unlink(claimedPath) }

    /// Back to an ordinary draft.
    public func release() { rename(claimedPath, originalPath) }
}

extension Draft {
    static let folderName = "drafts"
    private static let version: UInt8 = 1
    private static let associatedData = Array("duet draft v1".utf8)
    private static let claimMark = ".sealed.claimed-"

    static func folder(home: String) -> String { home + "/" + folderName }

    /// How many drafts `home` keeps (no passphrase needed: nothing is opened).
    public static func keptCount(home: String) -> Int { files(home: home).count }

    /// The draft files: `(id, path)`, claims of processes that are gone included, oldest first.
    static func files(home: String) -> [(id: String, path: String)] {
        let folder = folder(home: home)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var found: [(String, String)] = []
        for name in names.sorted() {
            if name.hasSuffix(".sealed") {
                found.append((String(name.dropLast(7)), folder + "/" + name))
            } else if let mark = name.range(of: claimMark), let pid = Int32(name[mark.upperBound...]), pid > 0,
                      !(kill(pid, 0) == 0 || errno == EPERM) {
                found.append((String(name[..<mark.lowerBound]), folder + "/" + name))
            }
        }
        return found
    }

    private struct Payload: Codable {
        let text: Data
        let keptAt: UInt64
        let entry: String?
        let shared: Bool
        let replyTo: String?
    }

    fileprivate func sealed(under key: SymmetricKey) throws(DeviceError) -> Data {
        guard text.count <= Self.maximumBytes else { throw .draftTooLarge(maximumBytes: Self.maximumBytes) }
        guard let plain = try? JSONEncoder().encode(Payload(text: text, keptAt: keptAt, entry: entry, shared: shared, replyTo: replyTo)) else {
            throw .storage(detail: "could not encode the draft")
        }
        var bytes = [UInt8](plain)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        return Data([Self.version] + AEAD.seal(SecretBytes(copying: bytes), using: key, associatedData: Self.associatedData))
    }

    /// Reads a sealed draft back; anything that does not open or decode is nil.
    fileprivate static func opened(_ data: Data, id: String, under key: SymmetricKey) -> Draft? {
        guard data.count <= maximumBytes * 2 + 4096, data.first == version,
              let plain = try? AEAD.open([UInt8](data.dropFirst()), using: key, associatedData: associatedData),
              let payload = try? JSONDecoder().decode(Payload.self, from: Data(plain)),
              payload.text.count <= maximumBytes, payload.entry.map({ $0.utf8.count <= 64 }) ?? true,
              payload.replyTo.map({ $0.utf8.count <= 64 }) ?? true else { return nil }
        return Draft(id: id, text: payload.text, keptAt: payload.keptAt, entry: payload.entry, shared: payload.shared, replyTo: payload.replyTo)
    }

    /// A regular file's bytes, at most `limit`: never a FIFO (which would block), a device or a
    /// link (opened without following it).
    static func readRegularFile(_ path: String, limit: Int) -> Data? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= 0, info.st_size <= limit else { return nil }
        var data = Data(count: Int(info.st_size))
        let read = data.withUnsafeMutableBytes { buffer -> Int in
            var done = 0
            while done < buffer.count, let base = buffer.baseAddress {
                let got = Foundation.read(descriptor, base + done, buffer.count - done)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { break }
                done += got
            }
            return done
        }
        return read == data.count ? data : nil
    }
}

extension UnlockedDevice {
    private var draftKey: SymmetricKey {
        KeyDerivation.deriveKey(from: unlocked.keystore.storageKey, subkeyID: 1, context: .draft)
    }

    /// Keeps `text` sealed as a new draft, written whole or not at all; returns its id.
    @discardableResult
    public func keepDraft(_ text: Data, entry: String? = nil, shared: Bool = false, replyTo: String? = nil) throws(DeviceError) -> String {
        let home = device.home
        guard Draft.keptCount(home: home) < Draft.maximumCount else {
            throw .tooManyDrafts(maximum: Draft.maximumCount)
        }
        let now = environment.now
        let id = "\(now)-\(getpid())"
        let draft = Draft(id: id, text: text, keptAt: now, entry: entry, shared: shared, replyTo: replyTo)
        let sealed = try draft.sealed(under: draftKey)
        let folder = Draft.folder(home: home)
        let path = folder + "/" + id + ".sealed", temporary = path + ".partial"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw Self.failure("keep the draft", errno) }
            let wrote = sealed.withUnsafeBytes { buffer -> Bool in
                var done = 0
                while done < buffer.count, let base = buffer.baseAddress {
                    let count = Foundation.write(descriptor, base + done, buffer.count - done)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { return false }
                    done += count
                }
                return fsync(descriptor) == 0
            }
            let writeError = errno
            close(descriptor)
            guard wrote else { throw Self.failure("keep the draft", writeError) }
            // rename(2): the draft appears whole or not at all.
            guard rename(temporary, path) == 0 else { throw Self.failure("keep the draft", errno) }
            let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory >= 0 { fsync(directory); close(directory) }
        } catch {
            unlink(temporary)
            throw DeviceError.from(error)
        }
        return id
    }

    /// Every kept draft, oldest first, and the ids of those that do not open.
    public func drafts() -> DraftListing {
        var drafts: [Draft] = [], damaged: [String] = []
        for file in Draft.files(home: device.home) {
            if let data = Draft.readRegularFile(file.path, limit: Draft.maximumBytes * 2 + 4096),
               let draft = Draft.opened(data, id: file.id, under: draftKey) {
                drafts.append(draft)
            } else {
                damaged.append(file.id)
            }
        }
        return DraftListing(drafts: drafts, damaged: damaged)
    }

    /// Takes draft `id` for this process (see ``ClaimedDraft``); nil when another process took
    /// it first or it is gone.
    public func claimDraft(_ draft: Draft) -> ClaimedDraft? {
        let folder = Draft.folder(home: device.home)
        guard let file = Draft.files(home: device.home).first(where: { $0.id == draft.id }) else { return nil }
        let original = folder + "/" + draft.id + ".sealed"
        let claimed = original + ".claimed-\(getpid())"
        guard rename(file.path, claimed) == 0 else { return nil }
        return ClaimedDraft(draft: draft, claimedPath: claimed, originalPath: original)
    }

    /// Removes draft `id`, damaged or not; false when there is none of that id.
    @discardableResult
    public func discardDraft(id: String) throws(DeviceError) -> Bool {
        guard let file = Draft.files(home: device.home).first(where: { $0.id == id }) else { return false }
        guard unlink(file.path) == 0 else { throw DeviceError.from(Self.failure("remove the draft", errno)) }
        return true
    }

    private static func failure(_ action: String, _ code: Int32) -> StoreError {
        switch code {
        case ENOSPC, EDQUOT: StoreError(.diskFull, "cannot \(action): the disk is full")
        case EROFS, EACCES, EPERM: StoreError(.readOnly, "cannot \(action): the folder is read-only or not yours")
        default: StoreError(.io, "cannot \(action): \(String(cString: strerror(code)))")
        }
    }
}
