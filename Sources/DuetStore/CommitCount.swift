import GRDB
import Synchronization

/// How many write transactions a store committed since it was asked: what benchmarks and
/// tests measure a code path's disk work by (issue #15: a local write cost four).
public final class CommitCount: Sendable {
    private let observer: Observer

    init(_ observer: Observer) { self.observer = observer }

    public var value: Int { observer.commits.withLock { $0 } }

    final class Observer: TransactionObserver, Sendable {
        let commits = Mutex(0)
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) { commits.withLock { $0 += 1 } }
        func databaseDidRollback(_ db: Database) {}
    }
}

extension Store {
    /// Starts counting this store's commits (this process's, through this store only).
    public func countingCommits() -> CommitCount {
        let observer = CommitCount.Observer()
        database.add(transactionObserver: observer, extent: .observerLifetime)
        return CommitCount(observer)
    }
}
