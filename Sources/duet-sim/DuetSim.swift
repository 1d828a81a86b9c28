import ArgumentParser
import DuetCrypto
import Foundation

/// `duet-sim`: the deterministic simulator (issue #15; INTERNALS.md "The simulator").
@main
struct DuetSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet-sim",
        abstract: "Runs seeded simulations of two people's devices and a relay in one process, and checks what must hold.",
        discussion: """
            Each seed drives everything: devices per person, what they write and when, which requests the network \
            loses, repeats or delays, which device or relay crashes and where. A failing seed is printed with the \
            command that replays it exactly.
            """)

    @Option(help: "How many seeds to run.") var seeds = 100
    @Option(help: "The first seed.") var from: UInt64 = 1
    @Option(help: "What the world's adversary is: none, relay or partner.") var adversary: Adversary = .none
    @Option(help: "Worker processes (each runs every jobs-th seed).") var jobs = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
    @Flag(help: "Print each seed's figures.") var verbose = false
    @Flag(help: .hidden) var worker = false
    /// For the simulator's own tests: the seed that reports a violation, and the one whose
    /// worker dies mid-seed, so the reporting of both is tested.
    @Option(help: .hidden) var failSeed: UInt64?
    @Option(help: .hidden) var dieAtSeed: UInt64?

    func validate() throws {
        guard (1...10_000_000).contains(seeds) else { throw ValidationError("--seeds is 1 to 10,000,000") }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs is 1 to 64") }
        guard from <= UInt64.max - UInt64(seeds) else { throw ValidationError("--from is too large for that many seeds") }
    }

    func run() async throws {
        if worker {
            try await Worker(first: from, count: seeds, stride: UInt64(jobs), adversary: adversary, verbose: verbose,
                             failSeed: failSeed, dieAtSeed: dieAtSeed).run()
        } else {
            let failed = try await Supervisor(first: from, count: seeds, jobs: jobs, adversary: adversary, verbose: verbose,
                                              passedOn: (failSeed.map { ["--fail-seed", String($0)] } ?? [])
                                                + (dieAtSeed.map { ["--die-at-seed", String($0)] } ?? [])).run()
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

extension Adversary: ExpressibleByArgument {}
