import Foundation
import Testing

/// DESIGN §3: imports go only down the layers. The compiler cannot stop a module from importing
/// a system library it can see, so the rules are checked here on the sources themselves.
@Suite("Import rules")
struct ImportRulesTests {
    /// Who may import whom, for Duet's own modules and the C door. A module absent from the map
    /// is a new module: add it here, with its layer, before it lands.
    static let allowed: [String: Set<String>] = [
        "CSodium": [],
        "CZlib": [],
        "DuetCrypto": ["CSodium"],
        // The canonical byte forms both DuetCore and DuetWire read and write: nothing of ours.
        "DuetEncoding": [],
        "DuetCore": ["DuetEncoding"],
        // The one HTTP client (AsyncHTTPClient, bounded): none of Duet's own modules.
        "DuetHTTP": [],
        // DuetEncoding, not DuetCore: what the relay links must not decode content.
        "DuetWire": ["DuetCrypto", "DuetEncoding"],
        "DuetStore": ["DuetCore", "DuetEncoding", "DuetWire", "DuetCrypto", "CZlib"],
        "DuetSync": ["DuetStore", "DuetCore", "DuetWire", "DuetCrypto", "DuetHTTP"],
        // The relay cannot interpret content, by construction: no DuetCore, DuetStore or DuetSync.
        "DuetRelay": ["DuetWire", "DuetCrypto"],
        "duet": ["DuetCLI"],
        // A device's use cases, over the store and sync; no networking or C of its own.
        "DuetDevice": ["DuetStore", "DuetSync", "DuetCore", "DuetCrypto"],
        // Parse, call DuetDevice, render: nothing below it (issue #15).
        "DuetCLI": ["DuetDevice"],
        "DuetTesting": ["DuetCore", "DuetWire", "DuetCrypto", "DuetHTTP", "DuetSync", "DuetRelay", "DuetStore", "CPseudoTerminal"],
        // The daemon holds no content key: it may not reach DuetCore, where content is decoded.
        "DuetDaemon": ["DuetSync", "DuetStore", "DuetWire", "DuetCrypto", "DuetHTTP"],
        "duetd": ["DuetDaemon", "DuetStore", "DuetSync"],
        "duet-relay": ["DuetRelay"],
        "duet-sim": ["DuetTesting", "DuetSync", "DuetStore", "DuetRelay", "DuetCore", "DuetWire", "DuetCrypto"],
        "duet-bench": ["DuetCore", "DuetTesting", "DuetStore", "DuetSync", "DuetCrypto", "DuetWire", "DuetDevice", "CHeapStatistics"],
        "CHeapStatistics": [],
        "CPseudoTerminal": [],
    ]
    static let ownModules: Set<String> = Set(allowed.keys)

    @Test("Only DuetCrypto imports CSodium, and every module imports only what its layer allows")
    func importsFollowTheLayers() throws {
        let sources = RepositoryLayout.root.appendingPathComponent("Sources")
        let modules = try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted()
        #expect(!modules.isEmpty)
        for module in modules {
            let permitted = try #require(
                Self.allowed[module], "module \(module) is not in ImportRulesTests.allowed")
            for (file, imported) in try Self.imports(in: sources.appendingPathComponent(module)) {
                let own = imported.intersection(Self.ownModules)
                let forbidden = own.subtracting(permitted)
                #expect(forbidden.isEmpty, "\(module)/\(file) imports \(forbidden.sorted()), which its layer may not")
            }
        }
    }

    /// The C doors and the networking, storage and parsing libraries, and the only modules
    /// that may import each (issue #15: the checks above see Duet's own modules only, so a
    /// `duet` command could have reached libsodium or SwiftNIO directly and no test said so).
    static let externalOwners: [String: Set<String>] = [
        "CSodium": ["DuetCrypto"],
        "CZlib": ["DuetStore"],
        "CHeapStatistics": ["duet-bench"],
        "CPseudoTerminal": ["DuetTesting"],
        "GRDB": ["DuetStore", "DuetRelay"],
        "GRDBSQLite": ["DuetStore", "duet-bench"],
        "SQLite3": [],
        "AsyncHTTPClient": ["DuetHTTP"],
        "NIOCore": ["DuetHTTP", "DuetRelay", "DuetSync", "DuetTesting", "duet-bench", "duet-relay"],
        "NIOPosix": ["DuetHTTP", "DuetRelay", "DuetTesting", "duet-bench", "duet-relay"],
        "NIOHTTP1": ["DuetHTTP", "DuetRelay"],
        "NIOFoundationCompat": ["DuetHTTP", "DuetRelay"],
        "Hummingbird": ["DuetRelay", "duet-relay"],
        "HummingbirdCore": ["DuetRelay"],
        "HummingbirdWebSocket": ["DuetRelay"],
        "HummingbirdWSClient": ["DuetSync"],
        "WSClient": ["DuetSync"],
        "HTTPTypes": ["DuetRelay", "DuetSync"],
        "ServiceLifecycle": ["DuetDaemon", "duetd", "duet-relay"],
        // The relay's shared backend (issue #17), and the tests' databases for it.
        "PostgresNIO": ["DuetRelay", "DuetTesting"],
        "NIOSSL": ["DuetRelay"],
    ]

    @Test("C libraries and networking libraries are imported only where their layer lives; duet's commands import DuetDevice and no lower module")
    func externalImports() throws {
        let sources = RepositoryLayout.root.appendingPathComponent("Sources")
        var seen: Set<String> = []
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted() {
            for (file, imported) in try Self.imports(in: sources.appendingPathComponent(module)) {
                for name in imported {
                    guard let owners = Self.externalOwners[name] else { continue }
                    seen.insert(name)
                    #expect(owners.contains(module), "\(module)/\(file) imports \(name), which only \(owners.sorted()) may")
                }
            }
        }
        // The map is about modules really imported: a stale entry would guard nothing.
        #expect(seen.isSuperset(of: ["CSodium", "CZlib", "GRDB", "AsyncHTTPClient", "Hummingbird", "NIOCore"]))
        // The CLI's whole world: its library, argument parsing, Foundation and the C library for
        // the terminal.
        let cliAllowed: Set<String> = ["DuetDevice", "ArgumentParser", "Foundation", "Synchronization", "Glibc", "Musl", "Darwin"]
        for (file, imported) in try Self.imports(in: sources.appendingPathComponent("DuetCLI")) {
            #expect(imported.isSubset(of: cliAllowed), "DuetCLI/\(file) imports \(imported.subtracting(cliAllowed).sorted())")
        }
    }

    /// Issue #15: twenty messages below the CLI named `duet …` commands or `--home`, so an app
    /// embedding Duet would show a person commands they cannot type. The libraries say what
    /// happened (and a `NextStep` or an error code for what to do); the clients word it.
    @Test("No message below the clients names a duet command or a command-line flag",
          arguments: ["DuetStore", "DuetSync", "DuetDaemon", "DuetDevice"])
    func librariesNameNoCommands(module: String) throws {
        let folder = RepositoryLayout.root.appendingPathComponent("Sources/\(module)")
        let files = try Self.imports(in: folder).map(\.0)
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                // Only what is inside string literals counts: a line's code may name a flag in a comment after it.
                let literals = code.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                    .filter { $0.offset % 2 == 1 }.map(\.element)
                for literal in literals {
                    #expect(!literal.contains("`duet ") && !literal.contains("--home") && !literal.contains("--relay"),
                            "\(module)/\(file):\(number + 1) names a command or flag: \(literal)")
                }
            }
        }
    }

    /// Issue #12: URLSession on Linux trapped in `URLSessionTask.cancel()` when a relay died and
    /// once hung a whole test run in `select`. Every HTTP call goes through DuetHTTP.
    @Test("Nothing imports FoundationNetworking or uses its sessions: HTTP goes through DuetHTTP")
    func noFoundationNetworking() throws {
        let root = RepositoryLayout.root
        var checked = 0
        for folder in ["Sources", "Tests"] {
            for (file, imported) in try Self.imports(in: root.appendingPathComponent(folder)) {
                checked += 1
                #expect(!imported.contains("FoundationNetworking"), "\(folder)/\(file) imports FoundationNetworking")
                let text = try String(contentsOf: root.appendingPathComponent(folder).appendingPathComponent(file), encoding: .utf8)
                let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
                // Spelt in two halves so that this line does not find itself.
                let banned = ["URL" + "Session", "URL" + "Request"]
                #expect(!code.contains { line in banned.contains { line.contains($0) } }, "\(folder)/\(file) uses \(banned[0])")
            }
        }
        #expect(checked > 100)
    }

    @Test("DuetCore and DuetEncoding are pure: they import only DuetEncoding and read no clock and no random source",
          arguments: [("DuetCore", 10), ("DuetEncoding", 1)])
    func pure(module: String, minimumFiles: Int) throws {
        let folder = RepositoryLayout.root.appendingPathComponent("Sources/\(module)")
        let files = try Self.imports(in: folder)
        #expect(files.count > minimumFiles)
        // DuetEncoding is the byte forms DuetCore is written in; it imports nothing itself.
        let permitted: Set<String> = module == "DuetEncoding" ? [] : ["DuetEncoding"]
        for (file, imported) in files {
            #expect(imported.isSubset(of: permitted), "\(module)/\(file) imports \(imported.sorted())")
        }
        // Time and randomness are passed in; these would draw them from the system.
        let forbidden = ["Date(", "ContinuousClock", "SuspendingClock", "SystemRandomNumberGenerator",
                         ".random(in:", "Int.random", "UInt64.random", "arc4random", "time(nil)", "gettimeofday",
                         ".shuffled()", ".shuffle()", "FileManager", "fopen("]
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return }
        for case let path as String in walker where path.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)
            for token in forbidden {
                // Whole identifiers only: `setDate(` is not `Date(`.
                let pattern = "(?<![A-Za-z0-9_])" + NSRegularExpression.escapedPattern(for: token)
                let found = text.range(of: pattern, options: .regularExpression) != nil
                #expect(!found, "\(module)/\(path) uses \(token)")
            }
        }
    }

    @Test("The check itself sees imports written in every form")
    func parserSeesEveryImportForm() {
        let text = """
            import CSodium
            internal import CSodium
            @preconcurrency import Foundation
            @_implementationOnly import CSodium
            public import struct DuetCrypto.SymmetricKey
            // import Commented
            let notAnImport = "import Quoted"
            """
        #expect(Self.importedModules(in: text) == ["CSodium", "CSodium", "Foundation", "CSodium", "DuetCrypto"])
    }

    /// Every `.swift` file under `folder` with the modules it imports.
    static func imports(in folder: URL) throws -> [(String, Set<String>)] {
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var result: [(String, Set<String>)] = []
        for case let path as String in walker where path.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)
            result.append((path, Set(importedModules(in: text))))
        }
        return result
    }

    /// Module names from `import` declarations, in order, whatever attributes and access level
    /// precede them and whether a single symbol is imported.
    static func importedModules(in text: String) -> [String] {
        let modifiers: Set<String> = ["public", "package", "internal", "fileprivate", "private"]
        let kinds: Set<String> = ["struct", "class", "enum", "protocol", "typealias", "func", "var", "let"]
        var modules: [String] = []
        for line in text.split(separator: "\n") {
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            while let first = words.first, first.hasPrefix("@") || modifiers.contains(first) {
                words.removeFirst()
            }
            guard words.first == "import", words.count >= 2 else { continue }
            var target = words[1]
            if kinds.contains(target), words.count >= 3 { target = words[2] }
            if let module = target.split(separator: ".").first { modules.append(String(module)) }
        }
        return modules
    }
}
