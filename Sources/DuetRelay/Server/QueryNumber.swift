/// Numbers in a request's query string, parsed with their bounds where they are read (issue
/// #12: `after=18446744073709551615` once overflowed `after + 1` and killed the relay for
/// everyone). Only plain decimal digits are accepted: no sign, no spaces, no hex, at most 20
/// digits; anything else, or a value outside `range`, is a 400 `malformed`.
enum QueryNumber {
    /// The value of `name` in `text` (the raw query parameter, nil when absent), or `default`.
    static func parse(_ text: String?, name: String, default defaultValue: UInt64, range: ClosedRange<UInt64>) throws(RelayError) -> UInt64 {
        guard let text else { return defaultValue }
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = UInt64(text), range.contains(value) else {
            throw .malformed("\(name) is a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
