import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// Issue #14 items 2 and 3: each of the relay's lies that `duet sync` warns of, told by a relay
/// that really tells it (the real `duet-relay` behind a ``TamperingProxy`` that rewrites one
/// kind of request or reply), and the same sync through the same proxy passing everything on
/// unchanged says nothing.
@Suite("duet sync against a relay that lies")
struct LyingRelayTests {
    enum Lie: String, CaseIterable, CustomTestStringConvertible {
        /// The fetch answers from the beginning, whatever this device said it holds.
        case replaysWhatWasHeld
        /// The heads name three more changes of the partner's device than the relay has.
        case inflatesPartnerHead
        /// The heads name three more changes of this very device than it ever wrote.
        case inflatesOwnHead
        /// The heads are honest; the fetch leaves out the partner's device.
        case withholdsPartnerDevice
        /// The heads name two devices nobody has at seq 2⁶³ − 1 (their sum overflowed a count).
        case namesDevicesAtTheMaximum
        /// Nothing: the proxy passes everything on (the control).
        case none
        var testDescription: String { rawValue }

        var warning: String? {
            switch self {
            case .replaysWhatWasHeld: "a replay"
            case .inflatesPartnerHead, .withholdsPartnerDevice, .namesDevicesAtTheMaximum: "then did not deliver"
            case .inflatesOwnHead: "another device is using this device's key, or the relay lies"
            case .none: nil
            }
        }
    }

    @Test("Each lie is warned of by name, what is true is still shown, and an honest relay through the same proxy raises nothing",
          arguments: Lie.allCases)
    func lie(_ lie: Lie) async throws {
        let proxy = try TamperingProxy()
        let couple = try await Couple(via: proxy)
        let first = try await couple.alex.write("first shared", ["--shared"])
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        #expect(try await couple.sam.duet(["sync"]).status == 0)
        let mine = try await couple.sam.write("Sam's own", ["--shared"])
        #expect(try await couple.sam.duet(["sync"]).status == 0)
        let alexDevice = try WireDeviceID(bytes: try #require((try await couple.alex.show(first)["authorDevice"] as? String).flatMap(Hex.decode)))
        let samDevice = try WireDeviceID(bytes: try #require((try await couple.sam.show(mine)["authorDevice"] as? String).flatMap(Hex.decode)))
        let second = try await couple.alex.write("second shared", ["--shared"])
        #expect(try await couple.alex.duet(["sync"]).status == 0)

        switch lie {
        case .replaysWhatWasHeld:
            let empty = Data(RelayMessages.encode(vector: [:])).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            proxy.tamper(request: { request in
                guard request.target.contains("/envelopes?"), let range = request.target.range(of: #"vector=[^&]*"#, options: .regularExpression) else { return }
                request.target.replaceSubrange(range, with: "vector=\(empty)")
            })
        case .inflatesPartnerHead, .inflatesOwnHead:
            let device = lie == .inflatesOwnHead ? samDevice : alexDevice
            proxy.tamper(reply: { request, reply in
                guard request.target.hasSuffix("/heads"), reply.status == 200, var heads = try? RelayMessages.decodeVector(reply.body) else { return }
                if let seq = heads[device] { heads[device] = seq + 3 }
                reply.body = RelayMessages.encode(vector: heads)
            })
        case .namesDevicesAtTheMaximum:
            proxy.tamper(reply: { request, reply in
                guard request.target.hasSuffix("/heads"), reply.status == 200, var heads = try? RelayMessages.decodeVector(reply.body) else { return }
                for fill: UInt8 in [0xEE, 0xEF] { if let id = try? WireDeviceID(bytes: [UInt8](repeating: fill, count: 16)) { heads[id] = Envelope.maximumSeq } }
                reply.body = RelayMessages.encode(vector: heads)
            })
        case .withholdsPartnerDevice:
            proxy.tamper(reply: { request, reply in
                guard request.target.contains("/envelopes?"), reply.status == 200, let flag = reply.body.first,
                      let page = try? RelayMessages.decodeBatch(Array(reply.body.dropFirst()), maximumCount: 10_000, maximumItemBytes: 1 << 20) else { return }
                let kept = page.filter { (try? Envelope(bytes: $0).header.device) != alexDevice }
                reply.body = [flag] + RelayMessages.encode(batch: kept)
            })
        case .none:
            break
        }
        // Something of Sam's own not sent yet: a lie about Sam's head must not keep it from
        // being sent once the relay is honest again.
        let unsent = try await couple.sam.write("Sam's, not sent yet", ["--shared"])
        let sync = try await couple.sam.duet(["sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let warnings = (try await couple.sam.status()["warnings"] as? [String]) ?? []
        if let expected = lie.warning {
            #expect(warnings.contains { $0.contains(expected) }, "\(warnings)")
        } else {
            #expect(warnings.isEmpty, "\(warnings)")
        }
        let shown = Set(try await couple.sam.list(["--shared"]).compactMap { $0["id"] as? String })
        #expect(shown.isSuperset(of: [first, mine]), "what verified is shown")
        #expect(shown.contains(second) == (lie != .withholdsPartnerDevice), "\(shown)")

        // The relay is honest again: the next sync catches up and says nothing new.
        proxy.tamper()
        let before = (try await couple.sam.status()["warnings"] as? [String]) ?? []
        #expect(try await couple.sam.duet(["sync"]).status == 0)
        #expect(try await couple.sam.list(["--shared"]).contains { $0["id"] as? String == second })
        #expect((try await couple.sam.status()["warnings"] as? [String]) ?? [] == before, "no new warning from an honest relay")
        #expect(try await couple.sam.status()["pendingOut"] as? Int == 0, "what Sam wrote was sent")
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        #expect(try await couple.alex.list(["--shared"]).contains { $0["id"] as? String == unsent })
        proxy.stop()
    }
}
