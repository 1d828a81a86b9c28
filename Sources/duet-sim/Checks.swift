import DuetCore
import DuetStore
import DuetWire
import Foundation

/// What must hold after every heal (issue #15), each a ``Violation`` when it does not.
extension World {
    func check() throws {
        let events = self.events.withLock { $0 }
        if let broken = events.defencesBroken.first { throw Violation(broken) }
        var replicas: [Int: (personal: [EntryID: [UInt8]], shared: [EntryID: [UInt8]])] = [:]
        var authors: [Int: [EntryID: DeviceID]] = [:]
        for device in devices {
            guard let unlocked = device.unlocked, let store = device.store else { continue }
            var personal: [EntryID: [UInt8]] = [:], shared: [EntryID: [UInt8]] = [:]
            try unlocked.forEachEntry { entry, kind in
                if kind == .couple { shared[entry.id] = EntrySnapshot.encode(entry) } else { personal[entry.id] = EntrySnapshot.encode(entry) }
                if let author = entry.author { authors[device.index, default: [:]][entry.id] = author }
                return true
            }
            replicas[device.index] = (personal, shared)
            for forged in forgedEntries where shared[forged] != nil {
                throw Violation("\(device.name) shows the entry Sam forged in Alex's name")
            }
            // Every change held was applied: none waits for a past that never came.
            let waiting = try store.pendingIn()
            guard waiting == 0 else { throw Violation("\(device.name) still holds \(waiting) change(s) it could not apply after the heal") }
            // A warning exactly when an attack reached this device: an honest world raises none.
            let warnings = try store.warnings()
            let attacks = events.attacks.filter { $0.device == device.index }
            if attacks.isEmpty {
                guard warnings.isEmpty else { throw Violation("\(device.name) warned though nothing attacked it: \(warnings[0])") }
            }
            for attack in attacks where !warnings.contains(where: { $0.contains(attack.warning) }) {
                throw Violation("\(device.name) met the \(attack.kind) attack and did not warn of it (warnings: \(warnings))")
            }
        }
        try checkConverged(replicas)
        try checkNothingLost(events, replicas)
        try checkAuthorship(events, authors)
        try checkNothingLeaked()
    }

    /// Replicas of one space hold byte-identical entries.
    func checkConverged(_ replicas: [Int: (personal: [EntryID: [UInt8]], shared: [EntryID: [UInt8]])]) throws {
        let live = devices.filter { replicas[$0.index] != nil }
        guard let first = live.first, let reference = replicas[first.index] else { return }
        for device in live.dropFirst() {
            guard let replica = replicas[device.index] else { continue }
            if replica.shared != reference.shared {
                throw Violation("\(device.name) and \(first.name) differ in the shared space: \(Self.difference(replica.shared, reference.shared))")
            }
        }
        for person in 0..<2 {
            let own = live.filter { $0.person == person }
            guard let mine = own.first, let personal = replicas[mine.index]?.personal else { continue }
            for device in own.dropFirst() where replicas[device.index]?.personal != personal {
                throw Violation("\(device.name) and \(mine.name) differ in \(Self.people[person])'s private space: "
                                + Self.difference(replicas[device.index]?.personal ?? [:], personal))
            }
        }
    }

    static func difference(_ a: [EntryID: [UInt8]], _ b: [EntryID: [UInt8]]) -> String {
        let onlyA = Set(a.keys).subtracting(b.keys), onlyB = Set(b.keys).subtracting(a.keys)
        let differing = a.keys.filter { b[$0] != nil && b[$0] != a[$0] }
        return "\(onlyA.count) entries only in the first, \(onlyB.count) only in the second, \(differing.count) differing"
    }

    /// Every write a store accepted is on every replica of its space.
    func checkNothingLost(_ events: Events, _ replicas: [Int: (personal: [EntryID: [UInt8]], shared: [EntryID: [UInt8]])]) throws {
        for commit in events.commits {
            let author = devices[commit.device]
            guard let authorWire = author.unlocked?.keystore.deviceID else { continue }
            let holders = devices.filter { replicas[$0.index] != nil && (commit.shared || $0.person == commit.person) }
            for device in holders {
                guard let store = device.store, let replica = replicas[device.index] else { continue }
                let entries = commit.shared ? replica.shared : replica.personal
                guard entries[commit.entry] != nil else {
                    throw Violation("a write of \(author.name) (entry \(commit.entry)) is missing on \(device.name)")
                }
                guard let space = try store.space(commit.shared ? .couple : .personal),
                      try store.localHeads(space: space.id)[authorWire] ?? 0 >= commit.seq else {
                    throw Violation("change \(commit.seq) of \(author.name) is missing on \(device.name)")
                }
            }
        }
    }

    /// Every entry is shown under the person whose device created it.
    func checkAuthorship(_ events: Events, _ authors: [Int: [EntryID: DeviceID]]) throws {
        var personOf: [DeviceID: Int] = [:]
        for device in devices { if let id = device.unlocked?.device { personOf[id] = device.person } }
        for (entry, person) in events.sharedEntries + events.privateEntries {
            for (index, shown) in authors {
                guard let author = shown[entry] else { continue }
                guard personOf[author] == person else {
                    throw Violation("entry \(entry), written by \(Self.people[person]), is shown on \(devices[index].name) under another author")
                }
            }
        }
    }

    /// No envelope of a person's private space, nor its id, is anywhere on the partner's
    /// devices: their files never held a byte of it.
    func checkNothingLeaked() throws {
        for person in 0..<2 {
            guard let privateSpace = devices(of: person).first?.unlocked?.keystore.personalSpace else { continue }
            let needle = Data(privateSpace.bytes)
            for device in devices(of: 1 - person) {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: device.home.path)) ?? []
                for file in files {
                    let path = device.home.path + "/" + file
                    guard let contents = FileManager.default.contents(atPath: path) else { continue }
                    if contents.range(of: needle) != nil {
                        throw Violation("\(device.name)'s \(file) holds \(Self.people[person])'s private space id")
                    }
                }
            }
        }
    }
}
