import DuetCore
import DuetDevice
import Foundation

/// One entry as `duet export` prints it on one device: the readable fields and the canonical
/// snapshot of its whole history (SPEC § 4), which must be byte-identical on every replica.
typealias SoakReplica = DuetExport.Item

extension SoakReplica {
    /// The entries of one `duet export` (format json), by id.
    static func parse(export text: String) throws -> [String: SoakReplica] {
        let export = try JSONDecoder().decode(DuetExport.self, from: Data(text.utf8))
        return Dictionary(export.entries.map { ($0.id, $0) }) { first, _ in first }
    }

    /// The fields in which two replicas differ (all but `mac`, which is each person's own).
    func differences(from other: SoakReplica) -> [String] {
        var fields: [String] = []
        if title != other.title { fields.append("title") }
        if body != other.body { fields.append("body") }
        if createdAt != other.createdAt { fields.append("createdAt") }
        if factors != other.factors { fields.append("factors") }
        if tags != other.tags { fields.append("tags") }
        if mood != other.mood { fields.append("mood") }
        if deleted != other.deleted { fields.append("deleted") }
        if snapshot != other.snapshot { fields.append("snapshot") }
        if space != other.space { fields.append("space") }
        if author != other.author { fields.append("author") }
        if starred != other.starred { fields.append("starred") }
        if originalAuthor != other.originalAuthor { fields.append("originalAuthor") }
        return fields
    }
}

/// The checks after healing, as a pure function of the ledger and what each device exported.
enum SoakCheck {
    typealias Observed = [SoakDevice: [String: SoakReplica]]

    static func violations(_ ledger: SoakLedger, _ observed: Observed) -> [String] {
        var found: [String] = []
        let known = Set(ledger.writes.values.map(\.id))
        for device in SoakDevice.all {
            for id in (observed[device] ?? [:]).keys.sorted() where !known.contains(id) {
                found.append("\(device) holds entry \(id), which no acknowledged write created")
            }
        }
        for write in ledger.writes.values.sorted(by: { $0.event < $1.event }) {
            found += placement(write, observed)
            let holders = SoakDevice.all.filter { write.belongs(on: $0) }
            let replicas = holders.compactMap { device in observed[device]?[write.id].map { (device, $0) } }
            if let head = replicas.first {
                let (first, reference) = head
                // The fields every replica shares, not the whole item: an export's `mac` is its
                // person's own (their key, whether they wrote the entry), so it differs between
                // partners by design.
                for (device, replica) in replicas.dropFirst() {
                    let fields = replica.differences(from: reference)
                    guard !fields.isEmpty else { continue }
                    found.append("entry \(write.id) (#\(write.event)) differs between \(first) and \(device) in \(fields.joined(separator: ", "))")
                }
            }
            // Each distinct replica once (identical ones give the same answers).
            var seen: Set<String> = []
            for (device, replica) in replicas where seen.insert(replica.snapshot).inserted {
                found += contents(write, replica, on: device, ledger)
            }
        }
        return found
    }

    /// On every device that should hold it, and on no other.
    static func placement(_ write: SoakLedger.Write, _ observed: Observed) -> [String] {
        SoakDevice.all.compactMap { device in
            let present = observed[device]?[write.id] != nil
            if write.belongs(on: device), !present {
                return "entry \(write.id) (#\(write.event), \(write.shared ? "shared" : "private"), written on \(write.device)) is missing on \(device)"
            }
            if !write.belongs(on: device), present {
                return "private entry \(write.id) (#\(write.event), written on \(write.device)) reached the partner's \(device)"
            }
            return nil
        }
    }

    /// Every acknowledged edit present exactly once, nothing unacknowledged, nothing deleted.
    static func contents(_ write: SoakLedger.Write, _ replica: SoakReplica, on device: SoakDevice, _ ledger: SoakLedger) -> [String] {
        let label = "entry \(write.id) (#\(write.event)) on \(device)"
        guard let bytes = Data(base64Encoded: replica.snapshot), let entry = try? EntrySnapshot.decode([UInt8](bytes)) else {
            return ["\(label): its snapshot does not decode"]
        }
        var found: [String] = []
        let body = entry.body.scalars
        if entry.body.string != replica.body { found.append("\(label): the exported body is not the snapshot's") }
        if let problem = entry.body.invariantViolation { found.append("\(label): the text CRDT's invariant fails: \(problem)") }
        if !entry.body.deletedScalars.isEmpty {
            found.append("\(label): \(entry.body.deletedScalars.count) scalar(s) were deleted, though no operation deletes text")
        }
        func once(_ marker: String, _ what: String) {
            let count = occurrences(of: Array(marker.unicodeScalars), in: body)
            if count != 1 { found.append("\(label): \(what) \(quoted(marker)) is in the body \(count) times, not once") }
        }
        let titles = entry.title.history.map(\.value)
        func titleOnce(_ title: String, _ what: String) {
            let count = titles.count { $0 == title }
            if count != 1 { found.append("\(label): \(what) \(quoted(title)) is in the title's history \(count) times, not once") }
        }
        once(write.marker, "the write's text")
        titleOnce(write.title, "the write's title")
        let witnesses = entry.tags.orderedHistory.filter(\.added).map(\.element)
        let acknowledgements = ledger.edits(of: write.event).count { if case .ack = $0.edit { true } else { false } }
        if entry.acknowledgements.count != acknowledgements {
            found.append("\(label): \(entry.acknowledgements.count) acknowledgement(s), but \(acknowledgements) `duet ack` exited 0")
        }
        for edit in ledger.edits(of: write.event) {
            switch edit.edit {
            case .body(let marker): once(marker, "acknowledged edit #\(edit.event) from \(edit.device)")
            case .title(let title): titleOnce(title, "acknowledged title #\(edit.event) from \(edit.device)")
            case .factor(let witness):
                let count = witnesses.count { $0 == witness }
                if count != 1 { found.append("\(label): acknowledged factor edit #\(edit.event) from \(edit.device) (witness tag \(witness)) is there \(count) times, not once") }
            case .ack: break
            }
        }
        for text in ledger.unacknowledged {
            if occurrences(of: Array(text.unicodeScalars), in: body) > 0 || titles.contains(text) || witnesses.contains(text) {
                found.append("\(label): \(quoted(text)) from an edit that did not exit 0 is there")
            }
        }
        if let current = entry.title.value, current != replica.title { found.append("\(label): the exported title is not the snapshot's") }
        return found
    }

    /// Each entry's `duet list --json` view alike on every device that holds it: a shared one
    /// as on Alex's laptop, a private one as on its person's laptop.
    static func viewDifferences(_ views: [SoakDevice: [String: NSDictionary]]) -> [String] {
        var found: [String] = []
        for device in SoakDevice.all {
            for (id, view) in (views[device] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let reference = view["space"] as? String == "shared" ? SoakDevice(index: 0) : SoakDevice(index: device.person * 2)
                guard reference != device, let other = views[reference]?[id], !other.isEqual(view) else { continue }
                let keys = Set((view.allKeys + other.allKeys).compactMap { $0 as? String }).sorted()
                let differing = keys.filter { key in !((view[key] as? NSObject)?.isEqual(other[key]) ?? (other[key] == nil)) }
                found.append("duet list --json shows entry \(id) differently on \(reference) and \(device) (\(differing.joined(separator: ", ")))")
            }
        }
        return found
    }

    static func occurrences(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar]) -> Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
        var count = 0
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { count += 1 }
        }
        return count
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.trimmingCharacters(in: .whitespaces) + "\""
    }
}
