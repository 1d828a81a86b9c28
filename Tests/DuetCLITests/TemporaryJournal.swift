import DuetTesting
import Foundation

/// A fresh home folder with an initialised journal, removed when the test is done with it.
final class TemporaryJournal {
    static let passphrase = "correct horse battery staple"
    let root: String
    let home: String

    init(name: String = "Alex", initialise: Bool = true, initOptions: [String] = []) async throws {
        root = NSTemporaryDirectory() + "duet-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        home = root + "/home"
        if initialise {
            let run = try await duet(["init", "--name", name] + initOptions)
            guard run.status == 0 else { throw TestFailure("init failed: \(run.stderr)") }
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// The environment every run gets: the test passphrase and the minimum (still pinned)
    /// passphrase hashing, so a test suite of many runs stays quick.
    var environment: [String: String] { ["DUET_PASSPHRASE": Self.passphrase, "DUET_KDF": "minimum"] }

    /// Runs `duet` with `--home` added after the subcommand.
    func duet(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil,
              withoutPassphrase: Bool = false, timeout: Duration = .seconds(3600)) async throws -> ProcessRun {
        var arguments = arguments
        if let first = arguments.first, !first.hasPrefix("-") {
            // After the subcommand: `pair invite`, `device link` have two words.
            let position = ["pair", "device", "draft"].contains(first) && arguments.count > 1 ? 2 : 1
            arguments.insert(contentsOf: ["--home", home], at: position)
        }
        var environment = self.environment.merging(extra) { $1 }
        if withoutPassphrase { environment["DUET_PASSPHRASE"] = nil }
        return try await ProcessRun.run("duet", arguments, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Writes an entry and returns its id.
    func write(_ text: String, _ options: [String] = []) async throws -> String {
        let run = try await duet(["write"] + options + ["-m", text])
        guard run.status == 0 else { throw TestFailure("write failed: \(run.stderr)") }
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every file under the home, with its bytes.
    func files() throws -> [(path: String, bytes: Data)] {
        guard let walker = FileManager.default.enumerator(atPath: home) else { return [] }
        var result: [(String, Data)] = []
        for case let path as String in walker {
            var isDirectory: ObjCBool = false
            let full = home + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                result.append((path, try Data(contentsOf: URL(fileURLWithPath: full))))
            }
        }
        return result
    }

    func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ProcessRun {
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    var errorLine: String { stderr.trimmingCharacters(in: .whitespacesAndNewlines) }
}
