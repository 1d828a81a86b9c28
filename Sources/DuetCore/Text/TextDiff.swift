/// From an old text to a new one with the fewest scalars deleted and inserted (Myers' O(ND)
/// algorithm over Unicode scalars), so that `duet edit` keeps the identity of every unchanged
/// scalar and merges cleanly with the partner's concurrent edit.
public enum TextDiff {
    /// Replace `deleteCount` scalars at `position` of the old text with `new[insertRange]`.
    /// Edits are in increasing, non-overlapping order of old positions.
    public struct Edit: Equatable, Sendable {
        public let position: Int
        public let deleteCount: Int
        public let insertRange: Range<Int>
    }

    public static func edits(from old: [Unicode.Scalar], to new: [Unicode.Scalar]) -> [Edit] {
        // Common prefix and suffix first: most edits touch one place of a long body.
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
              old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        let a = Array(old[prefix..<(old.count - suffix)])
        let b = Array(new[prefix..<(new.count - suffix)])
        if a.isEmpty && b.isEmpty { return [] }
        if a.isEmpty || b.isEmpty {
            return [Edit(position: prefix, deleteCount: a.count, insertRange: prefix..<(prefix + b.count))]
        }
        let script = myers(a, b)
        // Group the per-scalar script into runs of deletions and insertions.
        var edits: [Edit] = []
        var x = 0, y = 0, index = 0
        while index < script.count {
            if script[index] == .keep { x += 1; y += 1; index += 1; continue }
            let startX = x, startY = y
            while index < script.count, script[index] != .keep {
                if script[index] == .delete { x += 1 } else { y += 1 }
                index += 1
            }
            edits.append(Edit(position: prefix + startX, deleteCount: x - startX,
                              insertRange: (prefix + startY)..<(prefix + y)))
        }
        return edits
    }

    enum Step: Equatable { case keep, delete, insert }

    /// Differences larger than this many scalars are not worth a minimal script: the trace of
    /// Myers' algorithm grows with its square. Past it the differing middle is replaced whole
    /// (still correct; a rewrite that large keeps little identity anyway).
    static let maximumMinimalDistance = 2_000

    /// Myers' greedy shortest edit script. Round d keeps only the 2d + 1 diagonals it can reach,
    /// so the trace to walk back through holds O(D²) integers, not O(D·(N+M)).
    static func myers(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> [Step] {
        let n = a.count, m = b.count
        let limit = min(n + m, maximumMinimalDistance)
        // frontier[k + limit + 1] is the furthest x reached on diagonal k.
        let offset = limit + 1
        var frontier = [Int](repeating: 0, count: 2 * offset + 1)
        var trace: [[Int]] = []
        var found = false
        roundLoop: for d in 0...limit {
            trace.append(Array(frontier[(offset - d)...(offset + d)]))
            var k = -d
            while k <= d {
                var x: Int
                if k == -d || (k != d && frontier[offset + k - 1] < frontier[offset + k + 1]) {
                    x = frontier[offset + k + 1]
                } else {
                    x = frontier[offset + k - 1] + 1
                }
                var y = x - k
                while x < n, y < m, a[x] == b[y] { x += 1; y += 1 }
                frontier[offset + k] = x
                if x >= n && y >= m { found = true; break roundLoop }
                k += 2
            }
        }
        guard found else {
            return Array(repeating: .delete, count: n) + Array(repeating: .insert, count: m)
        }
        // Walk back: trace[d] holds diagonals -d…d of the frontier before round d.
        func reached(_ d: Int, _ k: Int) -> Int { trace[d][k + d] }
        var steps: [Step] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) where x > 0 || y > 0 {
            let k = x - y
            let previousK: Int
            if d == 0 {
                previousK = k
            } else if k == -d || (k != d && reached(d, k - 1) < reached(d, k + 1)) {
                previousK = k + 1
            } else {
                previousK = k - 1
            }
            let previousX = d == 0 ? 0 : reached(d, previousK)
            let previousY = previousX - previousK
            while x > previousX && y > previousY {
                steps.append(.keep); x -= 1; y -= 1
            }
            if d > 0 {
                if x == previousX { steps.append(.insert); y -= 1 } else { steps.append(.delete); x -= 1 }
            }
        }
        return steps.reversed()
    }
}
