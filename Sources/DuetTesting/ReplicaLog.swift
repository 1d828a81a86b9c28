public import DuetCore

/// A journal together with every change it received: enough to merge two replicas the way a
/// state-based CRDT would (each receives the other's log), which is what the merge laws are
/// stated over.
public struct ReplicaLog: Sendable {
    public private(set) var journal = Journal()
    public private(set) var log: [Change] = []

    public init() {}

    public init(_ changes: [Change]) {
        receive(changes)
    }

    public mutating func receive(_ changes: [Change]) {
        for change in changes {
            log.append(change)
            journal.receive(change)
        }
    }

    /// This replica after receiving everything `other` has.
    public func merged(with other: ReplicaLog) -> ReplicaLog {
        var result = self
        result.receive(other.log)
        return result
    }

    public var canonicalState: [UInt8] { journal.canonicalState }
}
