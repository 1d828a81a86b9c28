/// The body as someone saw it before editing: its text and the identity of each visible
/// scalar. An edit made against it (``EntryEditor/replaceBody(with:since:)``) touches only the
/// scalars that person changed, so text that arrived while they edited (the partner's answer,
/// another device's fix) is kept instead of being diffed away.
public struct BodyVersion: Sendable, Equatable {
    public let scalars: [Unicode.Scalar]
    let ids: [CharID]

    init(scalars: [Unicode.Scalar], ids: [CharID]) {
        self.scalars = scalars
        self.ids = ids
    }
}

extension TextCRDT {
    /// The id of each visible scalar, in document order.
    var visibleIDs: [CharID] {
        var ids: [CharID] = []
        ids.reserveCapacity(visibleCount)
        for chunk in chunks {
            // A span's agent indexes this body's own table (a rebuilt snapshot is checked when
            // it is decoded); one that does not is skipped rather than trapped on.
            for span in chunk.spans where !span.deleted && Int(span.agent) < agents.count {
                let device = agents[Int(span.agent)]
                for offset in 0..<span.length { ids.append(CharID(device: device, counter: span.counter &+ offset)) }
            }
        }
        return ids
    }
}

extension Body {
    /// What the body is now, to edit against later.
    public var version: BodyVersion {
        let storage = storage
        return BodyVersion(scalars: storage.scalars, ids: storage.visibleIDs)
    }
}

extension EntryEditor {
    /// Makes the body `text`, given that its author started from `base`: the differences from
    /// `base` to `text` are applied to the body as it is now. A scalar deleted since is not
    /// deleted again; an insertion goes right after the scalar it followed in `base` (or the
    /// nearest earlier one still there). Equal to ``replaceBody(with:)`` when nothing changed
    /// since `base`. A version that is not of this body (its first scalar was never in it: a
    /// caller's mistake) is ignored, and `text` is diffed against the body as it is.
    public mutating func replaceBody(with text: [Unicode.Scalar], since base: BodyVersion) {
        guard base.ids.count == base.scalars.count,
              base.ids.first.map({ (try? entry.body.storage.ref(for: $0)) != nil }) ?? true else { return replaceBody(with: text) }
        // Where each scalar of the current body stands. Edits run from the end of `base`, and
        // the scalars of `base` keep their relative order in any later body, so what an edit
        // changes always lies after every scalar an earlier edit refers to: one map serves all.
        var position: [CharID: Int] = [:]
        position.reserveCapacity(entry.body.count)
        for (index, id) in entry.body.storage.visibleIDs.enumerated() { position[id] = index }
        for edit in TextDiff.edits(from: base.scalars, to: text).reversed() {
            // TextDiff's edits lie within `base` and `text` by construction; checked all the same,
            // so that no edit reaches outside either.
            guard edit.position >= 0, edit.deleteCount >= 0, edit.deleteCount <= base.ids.count - edit.position,
                  edit.insertRange.lowerBound >= 0, edit.insertRange.upperBound <= text.count else { continue }
            let removed = base.ids[edit.position..<(edit.position + edit.deleteCount)]
            // Still-visible scalars of the removed range, as runs of adjacent current positions,
            // deleted from the last run back so the earlier positions stay right.
            var runs: [(start: Int, count: Int)] = []
            for id in removed {
                guard let at = position[id] else { continue }
                if let last = runs.last, last.start + last.count == at {
                    runs[runs.count - 1].count += 1
                } else {
                    runs.append((at, 1))
                }
            }
            for run in runs.reversed() { deleteText(at: run.start, count: run.count) }
            guard !edit.insertRange.isEmpty else { continue }
            var anchor = edit.position
            var insertAt = 0
            while anchor > 0 {
                anchor -= 1
                if let at = position[base.ids[anchor]] { insertAt = at + 1; break }
            }
            insertText(Array(text[edit.insertRange]), at: insertAt)
        }
    }
}
