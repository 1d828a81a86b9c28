import Foundation
import Testing
@testable import DuetCrypto

/// A JSON object from a vector file that remembers which keys were read, so that a key nobody
/// reads — a typo, or a field a runner forgot to check — fails the run instead of being ignored.
final class VectorObject {
    let context: String
    private let fields: [String: Any]
    private var read: Set<String> = []

    init(_ value: Any, context: String) throws {
        guard let fields = value as? [String: Any] else {
            throw VectorError("\(context): expected a JSON object")
        }
        self.fields = fields
        self.context = context
    }

    func has(_ key: String) -> Bool { fields[key] != nil }

    func string(_ key: String) throws -> String {
        read.insert(key)
        guard let value = fields[key] as? String else { throw VectorError("\(context): missing string \"\(key)\"") }
        return value
    }

    func bytes(_ key: String) throws -> [UInt8] {
        let text = try string(key)
        guard let bytes = Hex.decode(text) else { throw VectorError("\(context): \"\(key)\" is not hex") }
        return bytes
    }

    func int(_ key: String) throws -> Int {
        read.insert(key)
        guard let value = fields[key] as? Int else { throw VectorError("\(context): missing integer \"\(key)\"") }
        return value
    }

    func strings(_ key: String) throws -> [String] {
        read.insert(key)
        guard let value = fields[key] as? [String] else { throw VectorError("\(context): missing string array \"\(key)\"") }
        return value
    }

    /// Hex bytes if the key is present, else nil (marks the key read either way).
    func optionalBytes(_ key: String) throws -> [UInt8]? {
        has(key) ? try bytes(key) : nil
    }

    func objects(_ key: String) throws -> [VectorObject] {
        read.insert(key)
        guard let array = fields[key] as? [Any] else { throw VectorError("\(context): missing array \"\(key)\"") }
        return try array.enumerated().map { try VectorObject($1, context: "\(context).\(key)[\($0)]") }
    }

    /// The expected outcome: `success`, or the name of a ``CryptoError``.
    func expectedResult() throws -> String { try string("result") }

    /// Throws if any key of this object was never read.
    func requireAllKeysRead() throws {
        let unread = Set(fields.keys).subtracting(read)
        guard unread.isEmpty else { throw VectorError("\(context): unknown keys \(unread.sorted())") }
    }
}

struct VectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum VectorFiles {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    /// Every file in the vectors folder whose name starts with `prefix`.
    static func named(withPrefix prefix: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }
            .sorted()
            .map { folder.appendingPathComponent($0) }
    }

    static func load(_ url: URL) throws -> VectorObject {
        let data = try Data(contentsOf: url)
        return try VectorObject(JSONSerialization.jsonObject(with: data), context: url.lastPathComponent)
    }
}

/// Runs `body` and reports its outcome as a vector result name.
func outcome(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "success"
    } catch let error as CryptoError {
        return error.name
    } catch {
        return "unexpected error: \(error)"
    }
}
