import DuetWire

/// Group commit, as the SQLite backend groups its whole store: appends that arrive while a
/// commit is in flight are judged, in arrival order per space, in a later one, and one commit
/// carries the waiting appends of many spaces. A transaction's cost (its round trips, its
/// statements, its commit's fsync and the cluster-wide lock PostgreSQL holds while a
/// transaction that notifies commits) is paid once for all it carries, not once a space:
/// per space, a process of a pair that shares a couple's spaces gathers half the appends one
/// process would, and paid a transaction each (measured: two relays 0.74× one).
///
/// A space has at most one commit in flight (its appends stay in order, and two of its groups
/// would only judge against the same heads); at most ``maximumInFlight`` commits are in flight
/// in all, so that under load the appends waiting for a turn gather into the next one instead
/// of each paying a transaction of its own (measured: 1.15 envelopes a transaction without the
/// bound), and alone nothing waits.
actor AppendGroups {
    typealias Group = (space: SpaceID, batches: [[Envelope]])
    /// One commit of several spaces' groups: for each group, in order, its outcomes or why it
    /// failed (a space judged again under its lock may fail while the rest were stored).
    typealias Commit = @Sendable ([Group]) async -> [Result<[[AppendOutcome]], any Error>]

    private typealias Waiting = (envelopes: [Envelope], continuation: CheckedContinuation<[AppendOutcome], any Error>)

    private let commit: Commit
    private let maximumInFlight: Int
    private var waiting: [SpaceID: [Waiting]] = [:]
    /// Spaces with appends waiting and no commit in flight, in the order they became so.
    private var ready: [SpaceID] = []
    private var committing: Set<SpaceID> = []
    private var inFlight = 0

    /// The most envelopes one commit takes: a backlog drains in several.
    static let maximumGroup = 1024
    /// The most envelope bytes one commit takes (what waits is held in memory, and one
    /// `bytea[]` argument must stay far below PostgreSQL's 1 GB a value; review of #17).
    static let maximumGroupBytes = 64 << 20
    /// The most spaces one commit takes (each is a locked row the commit holds to its end).
    static let maximumSpaces = 64

    init(maximumInFlight: Int, commit: @escaping Commit) {
        self.maximumInFlight = max(1, maximumInFlight)
        self.commit = commit
    }

    /// Appends waiting for a commit (tests wait for a backlog to form).
    var waitingAppends: Int { waiting.values.reduce(0) { $0 + $1.count } }

    func submit(space: SpaceID, _ envelopes: [Envelope]) async throws -> [AppendOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            if waiting[space] == nil, !committing.contains(space) { ready.append(space) }
            waiting[space, default: []].append((envelopes, continuation))
            startCommits()
        }
    }

    private func startCommits() {
        while inFlight < maximumInFlight, !ready.isEmpty {
            var groups: [(space: SpaceID, waiting: [Waiting])] = []
            var count = 0, bytes = 0
            while let space = ready.first, groups.count < Self.maximumSpaces {
                var queue = waiting[space] ?? []
                var taken: [Waiting] = []
                while let next = queue.first {
                    let size = next.envelopes.reduce(0) { $0 + $1.bytes.count }
                    guard count == 0 || (count + next.envelopes.count <= Self.maximumGroup && bytes + size <= Self.maximumGroupBytes) else { break }
                    taken.append(queue.removeFirst())
                    count += next.envelopes.count
                    bytes += size
                }
                guard !taken.isEmpty else { break }
                ready.removeFirst()
                waiting[space] = queue.isEmpty ? nil : queue
                committing.insert(space)
                groups.append((space, taken))
                // What did not fit waits for this commit: the group is full.
                if !queue.isEmpty { break }
            }
            guard !groups.isEmpty else { return }
            inFlight += 1
            let commit = groups
            Task { await self.run(commit) }
        }
    }

    private func run(_ groups: [(space: SpaceID, waiting: [Waiting])]) async {
        let results = await commit(groups.map { ($0.space, $0.waiting.map(\.envelopes)) })
        for (index, group) in groups.enumerated() {
            let result = index < results.count ? results[index] : .failure(PostgresRelayError("a group commit answered for fewer spaces than it took"))
            switch result {
            case .success(let outcomes) where outcomes.count == group.waiting.count:
                for (item, outcome) in zip(group.waiting, outcomes) { item.continuation.resume(returning: outcome) }
            case .success:
                for item in group.waiting { item.continuation.resume(throwing: PostgresRelayError("a group commit answered for fewer requests than it took")) }
            case .failure(let error):
                for item in group.waiting { item.continuation.resume(throwing: error) }
            }
            committing.remove(group.space)
            if waiting[group.space] != nil { ready.append(group.space) }
        }
        inFlight -= 1
        startCommits()
    }
}
