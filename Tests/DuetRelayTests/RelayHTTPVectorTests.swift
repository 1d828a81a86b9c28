import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// `Protocol/vectors/relay-http.json`: the relay's HTTP rules (SPEC § 6.5) — what a device in no
/// space may call, `limit`'s default and bounds, the vector's base64url with or without padding,
/// batch limits, membership reads without paging — each case one request to the real relay.
@Suite("relay-http.json")
struct RelayHTTPVectorTests {
    @Test("Each request gets the status, code and reply the vector names")
    func vectors() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/vectors/relay-http.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let tests = try #require(root["tests"] as? [[String: Any]])
        let relay = try await RelayProcess(options: ["--appends-per-second", "100000", "--append-burst", "256"])

        var member = RelayProcessTests.Member()
        let (memberClient, space) = try await RelayProcessTests.personalSpace(relay, member)
        let key = SymmetricKey.random()
        for _ in 0..<5 {
            // 1,001 envelopes in batches the burst takes: 200, 200, 200, 200, 201.
            let count = member.seq == 800 ? 201 : 200
            let batch = (0..<count).map { _ in member.envelope(space, key).bytes }
            let reply = try await memberClient.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes", body: RelayMessages.encode(batch: batch))
            #expect(reply.status == 200, "setup: \(reply.text)")
        }
        #expect(member.seq == 1001)
        let strangerIdentity = SigningKey.generate()
        var stranger = RelayClient(base: relay.base, device: .generate())
        try await stranger.authenticate()
        let newSpace = SpaceID.random()
        let names = ["space": RelayClient.hex(space), "unknownSpace": RelayClient.hex(SpaceID.random()), "newSpace": RelayClient.hex(newSpace),
                     "mailbox": Hex.encode(RandomBytes.make(count: 16))]
        func vector(_ seq: UInt64, padded: Bool) -> String {
            let text = Data(RelayMessages.encode(vector: [member.id: seq])).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            return padded ? text : text.replacingOccurrences(of: "=", with: "")
        }

        for test in tests {
            let id = test["id"] as? Int ?? 0
            var keys: Set<String> = ["id", "comment", "as", "method", "path", "status"]
            var path = try #require(test["path"] as? String, "case \(id)")
            for (name, value) in names { path = path.replacingOccurrences(of: "{\(name)}", with: value) }
            for (pattern, padded) in [("{vector:", false), ("{vectorPadded:", true)] {
                while let start = path.range(of: pattern), let end = path[start.upperBound...].firstIndex(of: "}") {
                    let seq = try #require(UInt64(path[start.upperBound..<end]), "case \(id)")
                    path.replaceSubrange(start.lowerBound...end, with: vector(seq, padded: padded))
                }
            }
            let client = test["as"] as? String == "stranger" ? stranger : memberClient
            var body: [UInt8]?
            var sent = member
            if let spec = test["body"] as? [String: Any] {
                keys.insert("body")
                if let hex = spec["hex"] as? String { body = Hex.decode(hex) }
                if let count = spec["envelopes"] as? Int { body = RelayMessages.encode(batch: (0..<count).map { _ in sent.envelope(space, key).bytes }) }
                if spec["createRecord"] as? Bool == true {
                    body = MembershipRecord.sign(space: newSpace, index: 1, previous: .zero, action: .create(identity: strangerIdentity.verifyingKey),
                                                 signer: strangerIdentity).encoded
                }
            }
            let reply = try await client.request(try #require(test["method"] as? String), path, body: body)
            #expect(reply.status == test["status"] as? Int, "case \(id): \(reply.status) \(reply.text.prefix(200))")
            if reply.status == 200 { member = sent }   // the chain moved on only if the relay took it
            if let code = test["code"] as? String {
                keys.insert("code")
                #expect(reply.code == code, "case \(id): \(reply.text.prefix(200))")
            }
            if let expected = test["bodyHex"] as? String {
                keys.insert("bodyHex")
                #expect(Hex.encode(reply.body) == expected, "case \(id)")
            }
            if let envelopes = test["envelopes"] as? Int {
                keys.formUnion(["envelopes", "complete"])
                let page = try RelayMessages.decodeBatch(Array(reply.body.dropFirst()), maximumCount: 20_000, maximumItemBytes: 1 << 22)
                #expect(page.count == envelopes, "case \(id): \(page.count) envelopes")
                #expect(reply.body.first.map(Int.init) == test["complete"] as? Int, "case \(id): complete")
            }
            if let records = test["records"] as? Int {
                keys.insert("records")
                #expect(try RelayMessages.decodeBatch(reply.body, maximumCount: 20_000, maximumItemBytes: 4096).count == records, "case \(id)")
            }
            #expect(Set(test.keys) == keys, "case \(id): keys no check reads: \(Set(test.keys).subtracting(keys))")
        }
        _ = await relay.terminate()
    }
}
