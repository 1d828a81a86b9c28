public import Foundation

/// An editing trace from josephg/editing-traces (see `../shared/traces/README.md`): a real
/// keystroke history to replay into the text CRDT.
public struct EditingTrace: Sendable {
    /// One edit: at `position` (Unicode scalars), delete `deleteCount`, then insert `insert`.
    public struct Patch: Sendable {
        public let position: Int
        public let deleteCount: Int
        public let insert: [Unicode.Scalar]
    }

    /// One transaction: the patches one agent made at once, after merging `parents`.
    public struct Transaction: Sendable {
        public let agent: Int
        public let parents: [Int]
        public let patches: [Patch]
    }

    public let startContent: String
    public let endContent: String
    public let transactions: [Transaction]
    /// 1 for sequential traces; the number of agents of a concurrent one.
    public let agentCount: Int
    public let isConcurrent: Bool

    public var patchCount: Int { transactions.reduce(0) { $0 + $1.patches.count } }

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads a `.json` or `.json.gz` trace.
    public static func load(path: String) async throws -> EditingTrace {
        let data: Data
        if path.hasSuffix(".gz") {
            data = try await gunzip(path: path)
        } else {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return try parse(data)
    }

    public static func parse(_ data: Data) throws -> EditingTrace {
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let end = root["endContent"] as? String,
              let txns = root["txns"] as? [[String: Any]] else {
            throw LoadError(description: "not an editing trace: expected endContent and txns")
        }
        let concurrent = (root["kind"] as? String) == "concurrent"
        var transactions: [Transaction] = []
        transactions.reserveCapacity(txns.count)
        for (number, txn) in txns.enumerated() {
            guard let patchList = txn["patches"] as? [[Any]] else {
                throw LoadError(description: "transaction \(number) has no patches")
            }
            var patches: [Patch] = []
            for patch in patchList {
                guard patch.count == 3, let position = patch[0] as? Int, let delete = patch[1] as? Int,
                      let insert = patch[2] as? String else {
                    throw LoadError(description: "transaction \(number) has a malformed patch")
                }
                patches.append(Patch(position: position, deleteCount: delete, insert: Array(insert.unicodeScalars)))
            }
            transactions.append(Transaction(
                agent: txn["agent"] as? Int ?? 0, parents: txn["parents"] as? [Int] ?? [], patches: patches))
        }
        return EditingTrace(
            startContent: root["startContent"] as? String ?? "", endContent: end, transactions: transactions,
            agentCount: root["numAgents"] as? Int ?? 1, isConcurrent: concurrent)
    }

    private static func gunzip(path: String) async throws -> Data {
        let (status, data, _) = try await ChildProcess("/bin/gzip", ["-dc", path]).finishBytes()
        guard status == 0 else {
            throw LoadError(description: "gzip could not read \(path)")
        }
        return data
    }
}
