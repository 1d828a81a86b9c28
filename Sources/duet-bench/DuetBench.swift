import ArgumentParser

/// `duet-bench`: Duet's benchmarks, run as release builds (`swift run -c release duet-bench …`).
/// Every figure is the median of several fresh runs in one process, with min and max beside it.
@main
struct DuetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet-bench",
        abstract: "Measure Duet: editing traces, merges, the store, SQLite appends, the relay, sync, crypto; and a fault-injection soak.",
        subcommands: [TraceCommand.self, ConcurrentCommand.self, StoreCommand.self, RelayCommand.self, RelayBackendsCommand.self, SyncBenchCommand.self, CryptoCommand.self, MergeCommand.self, SqliteCommand.self, SoakCommand.self, SoakEditorCommand.self]
    )
}
