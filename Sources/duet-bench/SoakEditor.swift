import ArgumentParser
import Foundation

/// `duet-bench soak-editor FILE`: the `$EDITOR` the soak's `duet edit` opens. It inserts
/// `$DUET_SOAK_INSERT` at a marker boundary (before a `⟦`, or at the end) `$DUET_SOAK_AT`/1000 of
/// the way through, and deletes nothing. Through the editor the edit is made on the body
/// `duet edit` itself read, so it can never undo a change that arrived meanwhile (as `-m` with
/// text read earlier could).
struct SoakEditorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "soak-editor", abstract: "The soak's editor (internal).",
                                                    shouldDisplay: false)

    @Argument var file: String

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let insert = environment["DUET_SOAK_INSERT"], let at = environment["DUET_SOAK_AT"].flatMap(Int.init) else {
            throw ValidationError("DUET_SOAK_INSERT and DUET_SOAK_AT are set by `duet-bench soak`")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let scalars = Array(String(decoding: data, as: UTF8.self).unicodeScalars)
        let edited = Self.inserting(Array(insert.unicodeScalars), into: scalars, at: at)
        var text = String.UnicodeScalarView()
        text.append(contentsOf: edited)
        try Data(String(text).utf8).write(to: URL(fileURLWithPath: file))
    }

    /// `scalars` with `insert` at the boundary `at`/1000 of the way through its boundaries.
    static func inserting(_ insert: [Unicode.Scalar], into scalars: [Unicode.Scalar], at: Int) -> [Unicode.Scalar] {
        let boundaries = scalars.indices.filter { scalars[$0] == "⟦" } + [scalars.count]
        let position = boundaries[min(boundaries.count - 1, max(0, at) * boundaries.count / 1000)]
        var result = scalars
        result.insert(contentsOf: insert, at: position)
        return result
    }
}
