public import DuetEncoding

/// The canonical binary form of an ``Entry`` with its full history: every value each register
/// ever had, every set addition and removal, every acknowledgement, and every scalar ever typed
/// into the body with its id, origins and whether it is deleted.
///
/// Canonical: every replica that applied the same changes produces the same bytes, whatever the
/// order they arrived in — which is how the convergence tests compare replicas. It is also the
/// form the store keeps (sealed) so that opening an entry does not replay its changes.
///
/// Version 2 adds two registers after `date`: `starred` and `originalAuthor`. A snapshot is
/// written in version 1 while both are empty (so an entry nobody starred or imported still
/// reads on a Duet that knows only version 1, as an adopted snapshot or an export), and in
/// version 2 otherwise; a version 2 snapshot with both empty is not canonical.
public enum EntrySnapshot {
    /// The highest version this Duet reads and writes.
    public static let version: UInt64 = 2

    public static func encode(_ entry: Entry) -> [UInt8] {
        // Every device named anywhere, ascending, so indices do not depend on arrival order.
        let body = entry.body.storage
        let spans = body.canonicalSpans()
        let table = namedDevices(entry).sorted()
        var index: [DeviceID: UInt64] = [:]
        for (position, device) in table.enumerated() { index[device] = UInt64(position) }

        var writer = ByteWriter(capacity: 1024)
        func stamp(_ stamp: Stamp) { writer.varint(index[stamp.device, default: 0]); writer.varint(stamp.hlc.raw) }
        func optionalStamp(_ value: Stamp?) {
            if let value { writer.byte(1); stamp(value) } else { writer.byte(0) }
        }
        func dots(_ dots: [Dot]) {
            writer.varint(dots.count)
            for dot in dots { writer.varint(index[dot.device, default: 0]); writer.varint(dot.seq) }
        }
        func register<Value>(_ register: Register<Value>, _ value: (Value) -> Void) {
            writer.varint(register.history.count)
            for write in register.history {
                dots([write.dot]); writer.varint(write.stamp.hlc.raw)
                value(write.value)
                dots(Set(write.supersedes).sorted())
            }
        }
        func set<Element>(_ set: ObservedRemoveSet<Element>, _ element: (Element) -> Void) {
            let parts = set.parts
            writer.varint(parts.additions.count)
            for (value, valueDots) in parts.additions { element(value); dots(valueDots) }
            dots(parts.removed)
            let history = set.orderedHistory
            writer.varint(history.count)
            for item in history { element(item.element); writer.byte(item.added ? 1 : 0); stamp(item.stamp) }
        }
        func ref(_ id: CharID?) {
            guard let id else { return writer.varint(0) }
            writer.varint(index[id.device, default: 0] + 1)
            writer.varint(id.counter)
        }

        let needsVersion2 = !entry.starred.history.isEmpty || !entry.originalAuthor.history.isEmpty
        writer.varint(needsVersion2 ? 2 : 1)
        writer.raw(entry.id.bytes)
        writer.varint(table.count)
        for device in table { writer.raw(device.bytes) }
        optionalStamp(entry.creation)
        optionalStamp(entry.lastChange)
        register(entry.title) { writer.string($0) }
        register(entry.mood) { writer.byte($0 ?? 0) }
        register(entry.deleted) { writer.byte($0 ? 1 : 0) }
        register(entry.kind) { writer.string($0) }
        register(entry.replyTo) { target in
            if let target { writer.byte(1); writer.raw(target.bytes) } else { writer.byte(0) }
        }
        register(entry.date) { date in
            if let date { writer.byte(1); writer.varint(date) } else { writer.byte(0) }
        }
        if needsVersion2 {
            register(entry.starred) { writer.byte($0 ? 1 : 0) }
            register(entry.originalAuthor) { name in
                if let name { writer.byte(1); writer.string(name) } else { writer.byte(0) }
            }
        }
        set(entry.factors) { writer.byte($0.code) }
        set(entry.tags) { writer.string($0) }
        let acknowledgements = entry.acknowledgements.sorted()
        writer.varint(acknowledgements.count)
        acknowledgements.forEach(stamp)
        // Body: each device's typed text (in table order), then the document order.
        // Agent numbers are positions in `agents`. (A read: nothing here may touch the
        // storage's lookup caches, which copies of the entry on other threads share.)
        let typed = zip(body.agents, body.content).map { ($0, $1) }.sorted { $0.0 < $1.0 }
        writer.varint(typed.count)
        for (device, scalars) in typed {
            writer.varint(index[device, default: 0])
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            writer.string(String(view))
        }
        writer.varint(spans.count)
        for (position, span) in spans.enumerated() {
            // Most origins are the neighbours in document order (typing at a cursor): a flag
            // says so instead of spelling the id out.
            let previousLast = position > 0 ? spans[position - 1].lastID : nil
            let nextFirst = position + 1 < spans.count ? spans[position + 1].firstID : nil
            let leftImplied = span.originLeft == previousLast
            let rightImplied = span.originRight == nextFirst
            // And most spans continue the previous one's device and counters (a run cut by a
            // deletion or by the other partner's insertion).
            let previous = position > 0 ? spans[position - 1] : nil
            let sameDevice = previous?.device == span.device
            let continues = sameDevice && previous.map { $0.counter + $0.length == span.counter } == true
            // length << 5 | continues << 4 | sameDevice << 3 | rightImplied << 2 | leftImplied << 1 | deleted
            writer.varint(UInt64(span.length) << 5 | (continues ? 16 : 0) | (sameDevice ? 8 : 0)
                          | (rightImplied ? 4 : 0) | (leftImplied ? 2 : 0) | (span.deleted ? 1 : 0))
            if !sameDevice { writer.varint(index[span.device, default: 0]) }
            if !continues { writer.varint(span.counter) }
            if !leftImplied { ref(span.originLeft) }
            if !rightImplied { ref(span.originRight) }
        }
        return writer.bytes
    }

    /// Every device the entry names anywhere: its creator and last writer, every register
    /// write (and the writes it superseded), every set addition, removal and observed dot, every
    /// acknowledgement and every device that typed into the body. The snapshot's device table.
    public static func namedDevices(_ entry: Entry) -> Set<DeviceID> {
        var devices = Set<DeviceID>()
        func note(_ stamp: Stamp) { devices.insert(stamp.device) }
        func noteWrites<Value>(_ register: Register<Value>) {
            for write in register.history {
                devices.insert(write.dot.device); note(write.stamp)
                write.supersedes.forEach { devices.insert($0.device) }
            }
        }
        entry.creation.map(note)
        entry.lastChange.map(note)
        noteWrites(entry.title); noteWrites(entry.mood); noteWrites(entry.deleted)
        noteWrites(entry.kind); noteWrites(entry.replyTo); noteWrites(entry.date)
        noteWrites(entry.starred); noteWrites(entry.originalAuthor)
        for (_, dots) in entry.factors.parts.additions { dots.forEach { devices.insert($0.device) } }
        entry.factors.parts.removed.forEach { devices.insert($0.device) }
        entry.factors.orderedHistory.forEach { note($0.stamp) }
        for (_, dots) in entry.tags.parts.additions { dots.forEach { devices.insert($0.device) } }
        entry.tags.parts.removed.forEach { devices.insert($0.device) }
        entry.tags.orderedHistory.forEach { note($0.stamp) }
        entry.acknowledgements.forEach(note)
        entry.body.storage.agents.forEach { devices.insert($0) }
        return devices
    }

    /// Limits for decoding a stored snapshot (larger than a change's: an entry accumulates).
    public static let maximumDevices = 4096
    public static let maximumHistory = 1 << 20
    public static let maximumSpans = 1 << 24
    public static let maximumTextBytes = 64 << 20

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Entry {
        var reader = ByteReader(bytes)
        let version = try reader.varint()
        guard version == 1 || version == 2 else { throw .unknownVersion(version) }
        let id = try entryID(&reader)
        let deviceCount = try reader.count(max: maximumDevices, "device table")
        guard deviceCount * 16 <= reader.remaining else { throw .truncated }
        var table: [DeviceID] = []
        for _ in 0..<deviceCount {
            guard let device = DeviceID(bytes: try reader.raw(16)) else { throw .truncated }
            if let last = table.last, !(last < device) { throw .nonCanonical("device table order") }
            table.append(device)
        }
        func device(_ index: UInt64) throws(DecodingError) -> DeviceID {
            guard index < UInt64(table.count) else { throw .invalidValue("device index out of range") }
            return table[Int(index)]
        }
        func stamp() throws(DecodingError) -> Stamp {
            let device = try device(try reader.varint())
            return Stamp(hlc: HLC(raw: try reader.varint()), device: device)
        }
        func optionalStamp() throws(DecodingError) -> Stamp? {
            switch try reader.byte() {
            case 0: return nil
            case 1: return try stamp()
            default: throw .nonCanonical("optional flag")
            }
        }
        func dots() throws(DecodingError) -> [Dot] {
            let count = try reader.count(max: maximumHistory, "dot list")
            var result: [Dot] = []
            for _ in 0..<count { result.append(Dot(device: try device(try reader.varint()), seq: try reader.varint())) }
            return result
        }
        func register<Value>(_ value: () throws(DecodingError) -> Value) throws(DecodingError) -> Register<Value> {
            let count = try reader.count(max: maximumHistory, "register history")
            var writes: [Register<Value>.Write] = []
            for _ in 0..<count {
                guard let dot = try dots().first else { throw .invalidValue("register write without a dot") }
                let hlc = HLC(raw: try reader.varint())
                let decoded = try value()
                writes.append(.init(dot: dot, stamp: Stamp(hlc: hlc, device: dot.device), value: decoded, supersedes: try dots()))
            }
            return Register(history: writes)
        }
        func set<Element>(_ element: () throws(DecodingError) -> Element) throws(DecodingError) -> ObservedRemoveSet<Element> {
            let additionCount = try reader.count(max: maximumHistory, "set additions")
            var additions: [Element: Set<Dot>] = [:]
            for _ in 0..<additionCount { additions[try element()] = Set(try dots()) }
            let removed = Set(try dots())
            let historyCount = try reader.count(max: maximumHistory, "set history")
            var history = Set<ObservedRemoveSet<Element>.HistoryItem>()
            for _ in 0..<historyCount {
                let value = try element()
                let added = try reader.byte()
                guard added <= 1 else { throw .nonCanonical("boolean") }
                history.insert(.init(element: value, added: added == 1, stamp: try stamp()))
            }
            return ObservedRemoveSet(additions: additions, removed: removed, history: history)
        }
        func ref() throws(DecodingError) -> CharID? {
            let index = try reader.varint()
            if index == 0 { return nil }
            let counter = try reader.varint(max: UInt64(UInt32.max), "character counter")
            return CharID(device: try device(index - 1), counter: UInt32(counter))
        }
        func optionalEntryID() throws(DecodingError) -> EntryID? {
            switch try reader.byte() {
            case 0: return nil
            case 1: return try entryID(&reader)
            default: throw .nonCanonical("optional flag")
            }
        }

        var entry = Entry(id: id)
        entry.creation = try optionalStamp()
        entry.lastChange = try optionalStamp()
        entry.title = try register { () throws(DecodingError) in try reader.string(max: ChangeLimits.maximumTitleBytes, "title") }
        entry.mood = try register { () throws(DecodingError) -> UInt8? in
            let mood = try reader.byte()
            guard mood <= 5 else { throw .invalidValue("mood") }
            return mood == 0 ? nil : mood
        }
        entry.deleted = try register { () throws(DecodingError) -> Bool in
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("boolean") }
            return flag == 1
        }
        entry.kind = try register { () throws(DecodingError) in try reader.string(max: ChangeLimits.maximumKindBytes, "kind") }
        entry.replyTo = try register(optionalEntryID)
        entry.date = try register { () throws(DecodingError) -> UInt64? in
            switch try reader.byte() {
            case 0: return nil
            case 1: return try reader.varint(max: HLC.maxMilliseconds, "date")
            default: throw .nonCanonical("optional flag")
            }
        }
        if version == 2 {
            entry.starred = try register { () throws(DecodingError) -> Bool in
                let flag = try reader.byte()
                guard flag <= 1 else { throw .nonCanonical("boolean") }
                return flag == 1
            }
            entry.originalAuthor = try register { () throws(DecodingError) -> String? in
                switch try reader.byte() {
                case 0: return nil
                case 1: return try reader.string(max: ChangeLimits.maximumOriginalAuthorBytes, "original author")
                default: throw .nonCanonical("optional flag")
                }
            }
            guard !entry.starred.history.isEmpty || !entry.originalAuthor.history.isEmpty else {
                throw .nonCanonical("version 2 with both of its registers empty")
            }
        }
        entry.factors = try set { () throws(DecodingError) -> Factor in
            guard let factor = Factor(code: try reader.byte()) else { throw .invalidValue("factor") }
            return factor
        }
        entry.tags = try set { () throws(DecodingError) in try reader.string(max: ChangeLimits.maximumTagBytes, "tag") }
        let acknowledgementCount = try reader.count(max: maximumHistory, "acknowledgements")
        for _ in 0..<acknowledgementCount { entry.acknowledgements.insert(try stamp()) }

        let (content, spans) = try decodeBody(&reader, table: table)
        try reader.expectEnd()
        guard let body = TextCRDT.rebuild(content: content, spans: spans) else {
            throw .invalidValue("body spans do not match the body text")
        }
        entry.body = Body(storage: body)
        return entry
    }

    /// The body's typed text and spans. Apart from `decode` and its nested helpers on purpose:
    /// a local variable that nested functions capture is boxed, and every access to a boxed
    /// variable is checked for exclusivity at run time — a seventh of decoding a long body.
    private static func decodeBody(
        _ reader: inout ByteReader, table: [DeviceID]
    ) throws(DecodingError) -> (content: [(DeviceID, [Unicode.Scalar])], spans: [CanonicalSpan]) {
        let typedCount = try reader.count(max: table.count, "body authors")
        var content: [(DeviceID, [Unicode.Scalar])] = []
        for _ in 0..<typedCount {
            let author = try device(try reader.varint(), table)
            content.append((author, try reader.scalars(max: maximumTextBytes, "body text")))
        }
        let spanCount = try reader.count(max: maximumSpans, "spans")
        // Every span takes at least one byte: refuse counts the input cannot hold.
        guard spanCount <= reader.remaining else { throw .truncated }
        var spans: [CanonicalSpan] = []
        var rightImplied: [Bool] = []
        spans.reserveCapacity(spanCount)
        rightImplied.reserveCapacity(spanCount)
        for _ in 0..<spanCount {
            let packed = try reader.varint(max: UInt64(UInt32.max) << 5 | 31, "span length")
            let previous = spans.last
            let author: DeviceID
            if packed & 8 != 0 {
                guard let previous else { throw .invalidValue("the first span names its device") }
                author = previous.device
            } else {
                author = try device(try reader.varint(), table)
            }
            let counter: UInt64
            if packed & 16 != 0 {
                guard let previous, packed & 8 != 0 else { throw .invalidValue("a continued span follows one of its device") }
                counter = UInt64(previous.counter) + UInt64(previous.length)
            } else {
                counter = try reader.varint(max: UInt64(UInt32.max), "counter")
            }
            guard counter + (packed >> 5) <= UInt64(UInt32.max), packed >> 5 > 0 else { throw .invalidValue("span length") }
            let leftImplied = packed & 2 != 0
            let left = leftImplied ? previous?.lastID : try ref(&reader, table)
            let right = packed & 4 != 0 ? nil : try ref(&reader, table)
            rightImplied.append(packed & 4 != 0)
            spans.append(CanonicalSpan(
                device: author, counter: UInt32(counter), length: UInt32(packed >> 5),
                deleted: packed & 1 == 1, originLeft: left, originRight: right))
        }
        // A right origin implied by the next span is known only once that span is read.
        for position in spans.indices where rightImplied[position] {
            spans[position].originRight = position + 1 < spans.count ? spans[position + 1].firstID : nil
        }
        return (content, spans)
    }

    private static func device(_ index: UInt64, _ table: [DeviceID]) throws(DecodingError) -> DeviceID {
        guard index < UInt64(table.count) else { throw .invalidValue("device index out of range") }
        return table[Int(index)]
    }

    /// An optional scalar id: 0 for none, else device index + 1 and counter.
    private static func ref(_ reader: inout ByteReader, _ table: [DeviceID]) throws(DecodingError) -> CharID? {
        let index = try reader.varint()
        if index == 0 { return nil }
        let counter = try reader.varint(max: UInt64(UInt32.max), "character counter")
        return CharID(device: try device(index - 1, table), counter: UInt32(counter))
    }

    private static func entryID(_ reader: inout ByteReader) throws(DecodingError) -> EntryID {
        guard let id = EntryID(bytes: try reader.raw(16)) else { throw .truncated }
        return id
    }
}
