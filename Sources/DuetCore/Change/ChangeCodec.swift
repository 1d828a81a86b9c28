public import DuetEncoding

/// The canonical binary form of a ``Change`` (Protocol/SPEC.md, § Operations): what travels,
/// padded and sealed, inside an envelope. One change has exactly one encoding; the decoder
/// refuses every other byte string, including trailing bytes and overlong varints.
///
///     change     = version:varint(1|2) devices seq:varint hlc:varint deps entry:16 ops
///     devices    = count:varint(1…256) device:16 × count   ; [0] = author, rest ascending, all used
///     deps       = count:varint (device:varint seq:varint)* ; device index ≥ 1, ascending
///     ops        = count:varint(1…65536) op*
///     ref        = 0 (none) | device+1:varint counter:varint
///     dot        = device:varint seq:varint                 ; dots ascending
///
/// Version 2 is version 1 with two more operations, `setStarred` and `setOriginalAuthor`. A
/// change is written in the lowest version that holds its operations, so every change without
/// them still reads on a Duet that knows only version 1 (which consumes a version 2 change as
/// unreadable, SPEC § 3.2); a version 2 change without one of them is not canonical.
public enum ChangeCodec {
    /// The highest version this Duet reads and writes.
    public static let version: UInt64 = 2

    enum Tag: UInt8 {
        case create = 0x01
        case setTitle = 0x02
        case setMood = 0x03
        case setDeleted = 0x04
        case setKind = 0x05
        case setReplyTo = 0x06
        case setDate = 0x07
        case setStarred = 0x08
        case setOriginalAuthor = 0x09
        case addFactor = 0x10
        case removeFactor = 0x11
        case addTag = 0x12
        case removeTag = 0x13
        case acknowledge = 0x20
        case insertText = 0x30
        case deleteText = 0x31
        case adoptSnapshot = 0x40
    }

    // MARK: Encoding

    public static func encode(_ change: Change) -> [UInt8] {
        // The device table: the author, then every other device named, ascending.
        var others = Set<DeviceID>()
        for dot in change.dependencies { others.insert(dot.device) }
        for operation in change.operations { operation.forEachDevice { others.insert($0) } }
        others.remove(change.device)
        let table = [change.device] + others.sorted()
        var index: [DeviceID: UInt64] = [:]
        for (position, device) in table.enumerated() { index[device] = UInt64(position) }

        var writer = ByteWriter(capacity: 64)
        writer.varint(change.operations.contains(where: \.needsVersion2) ? 2 : 1)
        writer.varint(table.count)
        for device in table { writer.raw(device.bytes) }
        writer.varint(change.seq)
        writer.varint(change.hlc.raw)
        let dependencies = change.dependencies.filter { $0.device != change.device }.sorted()
        writer.varint(dependencies.count)
        for dot in dependencies {
            writer.varint(index[dot.device, default: 0])
            writer.varint(dot.seq)
        }
        writer.raw(change.entry.bytes)
        writer.varint(change.operations.count)
        for operation in change.operations { encode(operation, index: index, into: &writer) }
        return writer.bytes
    }

    private static func encode(_ operation: EntryOperation, index: [DeviceID: UInt64], into writer: inout ByteWriter) {
        func dots(_ dots: [Dot]) {
            let sorted = Set(dots).sorted()
            writer.varint(sorted.count)
            for dot in sorted {
                writer.varint(index[dot.device, default: 0])
                writer.varint(dot.seq)
            }
        }
        func ref(_ id: CharID?) {
            guard let id else { return writer.varint(0) }
            writer.varint(index[id.device, default: 0] + 1)
            writer.varint(id.counter)
        }
        switch operation {
        case .create:
            writer.byte(Tag.create.rawValue)
        case .setTitle(let title, let supersedes):
            writer.byte(Tag.setTitle.rawValue); writer.string(title); dots(supersedes)
        case .setMood(let mood, let supersedes):
            writer.byte(Tag.setMood.rawValue); writer.byte(mood ?? 0); dots(supersedes)
        case .setDeleted(let deleted, let supersedes):
            writer.byte(Tag.setDeleted.rawValue); writer.byte(deleted ? 1 : 0); dots(supersedes)
        case .setKind(let kind, let supersedes):
            writer.byte(Tag.setKind.rawValue); writer.string(kind); dots(supersedes)
        case .setReplyTo(let target, let supersedes):
            writer.byte(Tag.setReplyTo.rawValue)
            if let target { writer.byte(1); writer.raw(target.bytes) } else { writer.byte(0) }
            dots(supersedes)
        case .setDate(let date, let supersedes):
            writer.byte(Tag.setDate.rawValue)
            if let date { writer.byte(1); writer.varint(date) } else { writer.byte(0) }
            dots(supersedes)
        case .setStarred(let starred, let supersedes):
            writer.byte(Tag.setStarred.rawValue); writer.byte(starred ? 1 : 0); dots(supersedes)
        case .setOriginalAuthor(let name, let supersedes):
            writer.byte(Tag.setOriginalAuthor.rawValue)
            if let name { writer.byte(1); writer.string(name) } else { writer.byte(0) }
            dots(supersedes)
        case .adoptSnapshot(let bytes):
            writer.byte(Tag.adoptSnapshot.rawValue); writer.lengthPrefixed(bytes)
        case .addFactor(let factor):
            writer.byte(Tag.addFactor.rawValue); writer.byte(factor.code)
        case .removeFactor(let factor, let observed):
            writer.byte(Tag.removeFactor.rawValue); writer.byte(factor.code); dots(observed)
        case .addTag(let tag):
            writer.byte(Tag.addTag.rawValue); writer.string(tag)
        case .removeTag(let tag, let observed):
            writer.byte(Tag.removeTag.rawValue); writer.string(tag); dots(observed)
        case .acknowledge:
            writer.byte(Tag.acknowledge.rawValue)
        case .insertText(let insert):
            writer.byte(Tag.insertText.rawValue)
            writer.varint(insert.id.counter)
            ref(insert.originLeft)
            ref(insert.originRight)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: insert.scalars)
            writer.string(String(view))
        case .deleteText(let delete):
            writer.byte(Tag.deleteText.rawValue)
            ref(delete.start)
            writer.varint(delete.count)
        }
    }

    // MARK: Decoding

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Change {
        var reader = ByteReader(bytes)
        let version = try reader.varint()
        guard version == 1 || version == 2 else { throw .unknownVersion(version) }
        let deviceCount = try reader.count(max: ChangeLimits.maximumDevices, "device table")
        guard deviceCount >= 1 else { throw .invalidValue("a change names its author") }
        var table: [DeviceID] = []
        table.reserveCapacity(deviceCount)
        for position in 0..<deviceCount {
            guard let device = DeviceID(bytes: try reader.raw(16)) else { throw .truncated }
            if position >= 1, device == table[0] { throw .nonCanonical("author listed twice") }
            if position >= 2, !(table[position - 1] < device) { throw .nonCanonical("device table order") }
            table.append(device)
        }
        var used = [Bool](repeating: false, count: deviceCount)
        used[0] = true
        func device(_ index: UInt64) throws(DecodingError) -> DeviceID {
            guard index < UInt64(table.count) else { throw .invalidValue("device index out of range") }
            used[Int(index)] = true
            return table[Int(index)]
        }

        // Seqs are kept as signed 64-bit integers by every store: bounded here, where they are
        // decoded, so nothing downstream converts one with a trap.
        let seq = try reader.varint(max: ChangeLimits.maximumSeq, "seq")
        guard seq >= 1 else { throw .invalidValue("seq starts at 1") }
        let hlc = HLC(raw: try reader.varint())
        let dependencyCount = try reader.count(max: ChangeLimits.maximumDevices, "dependencies")
        var dependencies: [Dot] = []
        var previousIndex: UInt64 = 0
        for _ in 0..<dependencyCount {
            let index = try reader.varint()
            guard index >= 1, index > previousIndex else { throw .nonCanonical("dependency order") }
            previousIndex = index
            let dependencySeq = try reader.varint(max: ChangeLimits.maximumSeq, "dependency seq")
            guard dependencySeq >= 1 else { throw .nonCanonical("zero dependency") }
            dependencies.append(Dot(device: try device(index), seq: dependencySeq))
        }
        guard let entry = EntryID(bytes: try reader.raw(16)) else { throw .truncated }
        let operationCount = try reader.count(max: ChangeLimits.maximumOperations, "operations")
        guard operationCount >= 1 else { throw .invalidValue("a change has at least one operation") }
        // Each operation takes at least one byte: refuse a count the bytes cannot hold before
        // reserving space for it.
        guard operationCount <= reader.remaining else { throw .truncated }
        var operations: [EntryOperation] = []
        operations.reserveCapacity(operationCount)
        let author = table[0]
        for _ in 0..<operationCount {
            operations.append(try decodeOperation(&reader, version: version, author: author, device: device))
        }
        try reader.expectEnd()
        if version == 2, !operations.contains(where: \.needsVersion2) {
            throw .nonCanonical("version 2 without a version-2 operation")
        }
        guard used.allSatisfy({ $0 }) else { throw .nonCanonical("device table names an unused device") }
        let change = Change(
            device: author, seq: seq, hlc: hlc, dependencies: dependencies,
            entry: entry, operations: operations)
        return change
    }

    private static func decodeOperation(
        _ reader: inout ByteReader, version: UInt64, author: DeviceID,
        device: (UInt64) throws(DecodingError) -> DeviceID
    ) throws(DecodingError) -> EntryOperation {
        func dots() throws(DecodingError) -> [Dot] {
            let count = try reader.count(max: ChangeLimits.maximumSupersededDots, "dot list")
            var result: [Dot] = []
            for _ in 0..<count {
                let dot = Dot(device: try device(try reader.varint()), seq: try reader.varint(max: ChangeLimits.maximumSeq, "dot seq"))
                if let last = result.last, !(last < dot) { throw .nonCanonical("dot order") }
                result.append(dot)
            }
            return result
        }
        func ref() throws(DecodingError) -> CharID? {
            let index = try reader.varint()
            if index == 0 { return nil }
            let counter = try reader.varint(max: UInt64(UInt32.max), "character counter")
            return CharID(device: try device(index - 1), counter: UInt32(counter))
        }
        let tagByte = try reader.byte()
        guard let tag = Tag(rawValue: tagByte) else { throw .unknownTag(tagByte) }
        // Version 1 has no such operation: refused as the tag a version-1 reader never knew.
        if version == 1, tag == .setStarred || tag == .setOriginalAuthor { throw .unknownTag(tagByte) }
        switch tag {
        case .create:
            return .create
        case .setTitle:
            return .setTitle(try reader.string(max: ChangeLimits.maximumTitleBytes, "title"), supersedes: try dots())
        case .setMood:
            let mood = try reader.byte()
            guard mood <= 5 else { throw .invalidValue("mood is 1–5, or 0 for none") }
            return .setMood(mood == 0 ? nil : mood, supersedes: try dots())
        case .setDeleted:
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("boolean") }
            return .setDeleted(flag == 1, supersedes: try dots())
        case .setKind:
            return .setKind(try reader.string(max: ChangeLimits.maximumKindBytes, "kind"), supersedes: try dots())
        case .setReplyTo:
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("optional flag") }
            var target: EntryID?
            if flag == 1 {
                guard let id = EntryID(bytes: try reader.raw(16)) else { throw .truncated }
                target = id
            }
            return .setReplyTo(target, supersedes: try dots())
        case .setDate:
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("optional flag") }
            let date: UInt64? = flag == 1 ? try reader.varint(max: HLC.maxMilliseconds, "date") : nil
            return .setDate(date, supersedes: try dots())
        case .setStarred:
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("boolean") }
            return .setStarred(flag == 1, supersedes: try dots())
        case .setOriginalAuthor:
            let flag = try reader.byte()
            guard flag <= 1 else { throw .nonCanonical("optional flag") }
            let name: String? = flag == 1 ? try reader.string(max: ChangeLimits.maximumOriginalAuthorBytes, "original author") : nil
            return .setOriginalAuthor(name, supersedes: try dots())
        case .adoptSnapshot:
            return .adoptSnapshot(Array(try reader.lengthPrefixed(max: ChangeLimits.maximumSnapshotBytes, "snapshot")))
        case .addFactor, .removeFactor:
            let code = try reader.byte()
            guard let factor = Factor(code: code) else { throw .invalidValue("unknown factor") }
            return tag == .addFactor ? .addFactor(factor) : .removeFactor(factor, observed: try dots())
        case .addTag:
            return .addTag(try reader.string(max: ChangeLimits.maximumTagBytes, "tag"))
        case .removeTag:
            return .removeTag(try reader.string(max: ChangeLimits.maximumTagBytes, "tag"), observed: try dots())
        case .acknowledge:
            return .acknowledge
        case .insertText:
            let counter = try reader.varint(max: UInt64(UInt32.max), "character counter")
            let left = try ref(), right = try ref()
            let text = try reader.string(max: ChangeLimits.maximumInsertBytes, "inserted text")
            guard !text.isEmpty else { throw .invalidValue("empty insert") }
            let scalars = Array(text.unicodeScalars)
            guard UInt64(counter) + UInt64(scalars.count) <= UInt64(UInt32.max) else {
                throw .limitExceeded("character counter")
            }
            return .insertText(TextInsert(
                id: CharID(device: author, counter: UInt32(counter)), originLeft: left, originRight: right,
                scalars: scalars))
        case .deleteText:
            guard let start = try ref() else { throw .invalidValue("delete without a target") }
            let count = try reader.varint(max: UInt64(UInt32.max), "delete length")
            guard count >= 1, UInt64(start.counter) + count <= UInt64(UInt32.max) else {
                throw .invalidValue("delete length")
            }
            return .deleteText(TextDelete(start: start, count: UInt32(count)))
        }
    }
}

extension EntryOperation {
    /// Every device an operation names (other than through its change's author).
    func forEachDevice(_ body: (DeviceID) -> Void) {
        switch self {
        case .setTitle(_, let dots), .setMood(_, let dots), .setDeleted(_, let dots), .setKind(_, let dots),
             .setReplyTo(_, let dots), .setDate(_, let dots), .setStarred(_, let dots), .setOriginalAuthor(_, let dots),
             .removeFactor(_, let dots), .removeTag(_, let dots):
            dots.forEach { body($0.device) }
        case .insertText(let insert):
            if let left = insert.originLeft { body(left.device) }
            if let right = insert.originRight { body(right.device) }
        case .deleteText(let delete):
            body(delete.start.device)
        case .create, .addFactor, .addTag, .acknowledge, .adoptSnapshot:
            break
        }
    }
}

extension EntryOperation {
    /// Whether the operation exists only from change version 2 on.
    var needsVersion2: Bool {
        switch self {
        case .setStarred, .setOriginalAuthor: true
        default: false
        }
    }
}
