import DuetWire
import Testing

/// How ``RelayRequest`` reads a request's target: the relay's routes parse only what this hands
/// them, so a value it drops is a parameter the client did not send.
@Suite("Relay request target")
struct RelayRequestTests {
    @Test("Query values: percent-decoded, the first wins, a key without a value is empty, an absent key is nil")
    func decoding() {
        let request = RelayRequest(method: "GET", target: "/v1/spaces/x/envelopes?limit=%31%30&limit=7&vector&=&&a%62=c")
        #expect(request.path == "/v1/spaces/x/envelopes")
        #expect(request.query("limit") == "10")
        #expect(request.query("vector") == "")
        #expect(request.query("ab") == "c")
        #expect(request.query("after") == nil)
        #expect(RelayRequest(method: "GET", target: "/v1/spaces/x/heads").query("limit") == nil)
    }

    @Test("A value with a malformed or non-UTF-8 escape is kept as sent, never taken as absent")
    func malformedEscapes() {
        // Taken as absent, `limit=%zz` fetched the default page and `vector=%FF` the whole space,
        // where SPEC § 6.5 answers `malformed` (the relay's parsers refuse any `%`).
        for value in ["%zz", "%", "1%", "%4", "%FF", "%C0%80", "%ED%A0%80", "5%2"] {
            let request = RelayRequest(method: "GET", target: "/v1/spaces/x/envelopes?limit=\(value)&vector=\(value)")
            #expect(request.query("limit") == value, "limit=\(value)")
            #expect(request.query("vector") == value, "vector=\(value)")
        }
        // The first wins even when it is malformed: a later good one does not stand in for it.
        #expect(RelayRequest(method: "GET", target: "/x?limit=%zz&limit=5").query("limit") == "%zz")
    }
}
