import DuetCore
import DuetCrypto
import DuetTesting

/// One of the soak's four devices: Alex's laptop and phone, Sam's laptop and phone.
struct SoakDevice: Hashable, Comparable, Sendable, CustomStringConvertible {
    let index: Int

    static let all = (0..<4).map(SoakDevice.init)

    /// 0 for Alex, 1 for Sam.
    var person: Int { index / 2 }
    var personName: String { person == 0 ? "Alex" : "Sam" }
    var deviceName: String { "\(personName)'s \(index % 2 == 0 ? "laptop" : "phone")" }
    /// The same person's other device.
    var sibling: SoakDevice { SoakDevice(index: index ^ 1) }
    var description: String { "\(personName.lowercased())-\(index % 2 == 0 ? "laptop" : "phone")" }

    static func < (lhs: SoakDevice, rhs: SoakDevice) -> Bool { lhs.index < rhs.index }
}

/// What a person does on one device.
enum SoakOperation: Hashable, Sendable {
    /// `duet write`: the body starts with `marker`, a text no other operation uses.
    case write(shared: Bool, marker: String, words: String, title: String, factors: [Factor], mood: Int)
    /// `duet edit` through the editor, which inserts `marker` at the boundary `at`/1000 of the way
    /// through the body's markers (never inside one, never deleting anything).
    case editBody(target: Int, marker: String, at: Int)
    case editTitle(target: Int, title: String)
    /// `--add-factor`/`--remove-factor` with a unique `--add-tag witness` in the same change, so
    /// that the change's arrival can be checked even when the factor part changed nothing.
    case editFactor(target: Int, factor: Factor, add: Bool, witness: String)
    /// `duet ack` of a shared entry the partner wrote.
    case ack(target: Int)
    /// `duet sync` while the daemon may be running too (only planned while the relay is up).
    case sync

    /// The event number of the write this operation edits, if it edits one.
    var target: Int? {
        switch self {
        case .editBody(let target, _, _), .editTitle(let target, _), .editFactor(let target, _, _, _), .ack(let target): target
        case .write, .sync: nil
        }
    }
}

/// A fault, or its end. Each fault of the relay and of each device ends before the next begins.
enum SoakFault: String, Hashable, Sendable {
    case killRelay = "relay SIGKILL", pauseRelay = "relay SIGSTOP", terminateRelay = "relay SIGTERM"
    case startRelay = "relay restart", resumeRelay = "relay SIGCONT"
    case killDaemon = "duetd SIGKILL", stopDaemon = "duetd SIGTERM (offline)", pauseDaemon = "duetd SIGSTOP"
    case startDaemon = "duetd restart", resumeDaemon = "duetd SIGCONT"

    /// Whether this begins a fault (rather than ending one).
    var begins: Bool { [.killRelay, .pauseRelay, .terminateRelay, .killDaemon, .stopDaemon, .pauseDaemon].contains(self) }
}

/// One step of the schedule, at `at` milliseconds after the fault phase starts.
struct SoakEvent: Hashable, Sendable {
    enum Action: Hashable, Sendable {
        case operation(SoakOperation)
        case fault(SoakFault)
    }

    let number: Int
    let at: Int
    /// The device acted on; nil for the relay's faults.
    let device: SoakDevice?
    let action: Action

    /// The canonical line hashed into the schedule's hash (and printed by `--print-schedule`).
    var line: String {
        let who = device.map(\.description) ?? "relay"
        switch action {
        case .fault(let fault): return "\(number) \(at) \(who) fault \(fault.rawValue)"
        case .operation(let operation):
            switch operation {
            case .write(let shared, let marker, let words, let title, let factors, let mood):
                return "\(number) \(at) \(who) write \(shared ? "shared" : "private") title=\(title) factors=\(factors.map(\.rawValue).joined(separator: ",")) mood=\(mood) body=\(marker)\(words)"
            case .editBody(let target, let marker, let position): return "\(number) \(at) \(who) edit-body #\(target) at=\(position) insert=\(marker)"
            case .editTitle(let target, let title): return "\(number) \(at) \(who) edit-title #\(target) title=\(title)"
            case .editFactor(let target, let factor, let add, let witness):
                return "\(number) \(at) \(who) edit-factor #\(target) \(add ? "add" : "remove")=\(factor.rawValue) witness=\(witness)"
            case .ack(let target): return "\(number) \(at) \(who) ack #\(target)"
            case .sync: return "\(number) \(at) \(who) sync"
            }
        }
    }
}

/// The whole run, derived from the seed alone: the same seed gives the same events in the same
/// order at the same planned times, and the same hash. (What a real process makes of an event —
/// whether an entry has reached the device an edit is planned on — depends on timing, and is
/// reported beside the schedule, not part of it.)
struct SoakSchedule: Sendable {
    let seed: UInt64
    let milliseconds: Int
    let events: [SoakEvent]

    /// BLAKE2b-256 of the events' lines, each ending in a newline; the first 16 hex digits.
    var hash: String {
        let text = events.map { $0.line + "\n" }.joined()
        return String(Hash.digest(Array(text.utf8)).description.prefix(16))
    }

    var operationCount: Int { events.count { if case .operation = $0.action { true } else { false } } }
    var faultCount: Int { events.count { if case .fault(let fault) = $0.action { fault.begins } else { false } } }

    /// Text scattered through markers and titles: combining marks, astral and joined emoji, CJK,
    /// a ligature — what a body's scalars must survive.
    static let decorations = ["e\u{301}", "🙂", "👩‍❤️‍👨", "中文", "ß", "ﬁ", "𝄞", "ña"]
    static let words = ["we", "walked", "by", "the", "river", "and", "I", "felt", "safe", "you", "noticed", "tea",
                        "quiet", "morning", "laughed", "🌧️", "thank", "you", "naïve", "café"]

    static func plan(seed: UInt64, seconds: Int) -> SoakSchedule {
        let end = seconds * 1000
        var faults: [(at: Int, device: SoakDevice?, fault: SoakFault)] = []
        // The relay: a fault every 4–12 s, lasting up to 8 s, never overlapping the next one.
        var faultRandom = SeededRandom(seed: seed ^ 0x5EED_FA17)
        var time = 1500 + faultRandom.below(3000)
        while time < end - 2000 {
            let (begin, finish, duration): (SoakFault, SoakFault, Int) = switch faultRandom.below(100) {
            case 0..<45: (.killRelay, .startRelay, 300 + faultRandom.below(3700))
            case 45..<80: (.pauseRelay, .resumeRelay, 1000 + faultRandom.below(7000))
            default: (.terminateRelay, .startRelay, 300 + faultRandom.below(2700))
            }
            faults.append((time, nil, begin))
            faults.append((min(time + duration, end), nil, finish))
            time += duration + 4000 + faultRandom.below(8000)
        }
        // Each daemon: killed and restarted soon, stopped for a while (the device offline while
        // its person keeps writing), or paused (a laptop lid closed on an open socket).
        for device in SoakDevice.all {
            var time = 2000 + faultRandom.below(8000)
            while time < end - 2000 {
                let (begin, finish, duration): (SoakFault, SoakFault, Int) = switch faultRandom.below(100) {
                case 0..<40: (.killDaemon, .startDaemon, 200 + faultRandom.below(2800))
                case 40..<75: (.stopDaemon, .startDaemon, 3000 + faultRandom.below(12000))
                default: (.pauseDaemon, .resumeDaemon, 1000 + faultRandom.below(5000))
                }
                faults.append((time, device, begin))
                faults.append((min(time + duration, end), device, finish))
                time += duration + 6000 + faultRandom.below(14000)
            }
        }
        faults.sort { ($0.at, $0.device?.index ?? -1) < ($1.at, $1.device?.index ?? -1) }

        // Operations, every 80–320 ms, interleaved with the faults in time order; `sync` only
        // while the relay is up and answering (a paused relay would hold the command to its
        // deadline, which tells nothing new).
        var random = SeededRandom(seed: seed)
        var events: [SoakEvent] = []
        var pendingFaults = faults[...]
        var relayUp = true
        var shared: [Int] = [], privates: [[Int]] = [[], []], sharedBy: [[Int]] = [[], []]
        func add(_ at: Int, _ device: SoakDevice?, _ action: SoakEvent.Action) {
            events.append(SoakEvent(number: events.count, at: at, device: device, action: action))
        }
        func decoration() -> String { random.pick(decorations) }
        func pickTarget(_ pool: [Int]) -> Int {
            // Half the time one of the latest five: edits racing the entry's own delivery.
            random.chance(50) ? pool[max(0, pool.count - 5) + random.below(min(5, pool.count))] : random.pick(pool)
        }
        var now = 300
        while now < end {
            while let next = pendingFaults.first, next.at <= now {
                pendingFaults = pendingFaults.dropFirst()
                if next.device == nil { relayUp = next.fault == .startRelay || next.fault == .resumeRelay }
                add(next.at, next.device, .fault(next.fault))
            }
            let device = SoakDevice(index: random.below(4))
            let number = events.count
            let roll = random.below(100)
            let own = privates[device.person]
            let operation: SoakOperation
            switch roll {
            case 0..<20 where !shared.isEmpty:
                operation = .editBody(target: pickTarget(shared), marker: "⟦e\(number)·\(decoration())⟧ ", at: random.below(1000))
            case 20..<30 where !own.isEmpty:
                operation = .editBody(target: pickTarget(own), marker: "⟦e\(number)·\(decoration())⟧ ", at: random.below(1000))
            case 30..<40 where !shared.isEmpty || !own.isEmpty:
                let pool = shared.isEmpty || (!own.isEmpty && random.chance(30)) ? own : shared
                operation = .editTitle(target: pickTarget(pool), title: "t\(number) \(decoration())")
            case 40..<50 where !shared.isEmpty || !own.isEmpty:
                let pool = shared.isEmpty || (!own.isEmpty && random.chance(30)) ? own : shared
                operation = .editFactor(target: pickTarget(pool), factor: random.pick(Factor.allCases), add: random.chance(60), witness: "w\(number)")
            case 50..<55 where relayUp:
                operation = .sync
            case 55..<60 where !sharedBy[1 - device.person].isEmpty:
                operation = .ack(target: pickTarget(sharedBy[1 - device.person]))
            default:
                let isShared = random.chance(55)
                let count = 2 + random.below(6)
                let text = (0..<count).map { _ in random.pick(Self.words) }.joined(separator: " ")
                let factors = Array(Set((0..<random.below(3)).map { _ in random.pick(Factor.allCases) })).sorted()
                operation = .write(shared: isShared, marker: "⟦n\(number)·\(decoration())⟧ ", words: text,
                                   title: "t\(number) \(decoration())", factors: factors, mood: 1 + random.below(5))
                if isShared { shared.append(number); sharedBy[device.person].append(number) } else { privates[device.person].append(number) }
            }
            add(now, device, .operation(operation))
            now += 80 + random.below(240)
        }
        for next in pendingFaults { add(next.at, next.device, .fault(next.fault)) }
        return SoakSchedule(seed: seed, milliseconds: end, events: events)
    }
}
