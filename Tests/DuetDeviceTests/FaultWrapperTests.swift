import DuetDevice
import DuetSync
import DuetTesting
import DuetWire
import Foundation
import Synchronization
import Testing

/// Issue #15 item 2: DuetTesting's fault wrappers over any `RelayConnection`, each through the
/// in-process relay with real devices: what the network and a hostile relay do, and what the
/// devices say and keep.
@Suite("Fault wrappers")
struct FaultWrapperTests {
    /// Both partners' connection: the relay, behind a network whose fate is `fate`'s, behind a
    /// relay whose lies are `lie`'s.
    final class Faults: Sendable {
        let fate = Mutex<@Sendable (RelayRequest) -> NetworkFate>({ _ in .deliver })
        let lie = Mutex<@Sendable (HostileRelayConnection.Observed) -> RelayAlteration?>({ _ in nil })

        func wrap(_ relay: any RelayConnection) -> any RelayConnection {
            let network = FaultyConnection(relay) { [self] request in fate.withLock { $0 }(request) }
            return HostileRelayConnection(network) { [self] observed in lie.withLock { $0 }(observed) }
        }
    }

    static func make() async throws -> (TwoPartners, Faults) {
        let faults = Faults()
        return (try await TwoPartners.make(through: { faults.wrap($0) }), faults)
    }

    static func warnings(_ device: UnlockedDevice) throws -> [String] { try device.device.status().warnings }

    @Test("Every push and fetch repeated later: harmless, the partner gets the entry and nobody warns")
    func duplicatesAreHarmless() async throws {
        let (couple, faults) = try await Self.make()
        defer { couple.remove() }
        let repeated = Mutex(0)
        faults.fate.withLock {
            $0 = { request in
                guard request.path.hasSuffix("/envelopes") else { return .deliver }
                repeated.withLock { $0 += 1 }
                return .duplicate
            }
        }
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Sent twice, kept once."))
        _ = try await couple.alex.sync()
        _ = try await couple.sam.sync()
        _ = try await couple.alex.sync()
        #expect(repeated.withLock { $0 } >= 2)
        #expect(try couple.sam.show(id).record.body == "Sent twice, kept once.")
        #expect(try Self.warnings(couple.alex).isEmpty)
        #expect(try Self.warnings(couple.sam).isEmpty)
    }

    @Test("A lost push and a lost reply fail that sync; the next converges without a warning")
    func lossesFailThenConverge() async throws {
        let (couple, faults) = try await Self.make()
        defer { couple.remove() }
        for lost in [NetworkFate.loseRequest, .loseReply] {
            let once = Mutex(true)
            faults.fate.withLock {
                $0 = { request in
                    guard request.method == "POST", request.path.hasSuffix("/envelopes") else { return .deliver }
                    return once.withLock { first in defer { first = false }; return first ? lost : .deliver }
                }
            }
            let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Through \(lost)."))
            await #expect(throws: DeviceError.self) { _ = try await couple.alex.sync() }
            _ = try await couple.alex.sync()
            _ = try await couple.sam.sync()
            #expect(try couple.sam.show(id).record.body == "Through \(lost).")
        }
        #expect(try Self.warnings(couple.alex).isEmpty)
        #expect(try Self.warnings(couple.sam).isEmpty)
    }

    @Test("A held-back request reaches the relay after the next one; a delayed one waits on the injected sleep")
    func reorderAndDelay() async throws {
        let arrived = Box<[String]>([])
        let slept = Box<[Duration]>([])
        let relay = RecordingConnection(arrived: arrived)
        // The sleep waits for real: the hold limit is a timer on it, which must not fire at once.
        let network = FaultyConnection(relay, holdLimit: .seconds(30), sleep: { duration in
            slept.value.append(duration)
            try await Task.sleep(for: duration)
        }) { request in
            switch request.target {
            case "/first": .reorder
            case "/third": .delay(.milliseconds(7))
            default: .deliver
            }
        }
        async let first = network.send(RelayRequest(method: "GET", target: "/first"), maximumReplyBytes: 100)
        let deadline = ContinuousClock.now + .seconds(10)
        while network.heldBack == 0, ContinuousClock.now < deadline { await Task.yield() }
        try #require(network.heldBack == 1)
        _ = try await network.send(RelayRequest(method: "GET", target: "/second"), maximumReplyBytes: 100)
        _ = try await first
        _ = try await network.send(RelayRequest(method: "GET", target: "/third"), maximumReplyBytes: 100)
        #expect(arrived.value == ["/second", "/first", "/third"])
        #expect(slept.value.contains(.milliseconds(7)))
    }

    @Test("Seeded fates replay: the same seed and rates give the same fates")
    func seededFates() {
        let rates = NetworkFaultRates(loseRequest: 10, loseReply: 10, duplicate: 10, delay: 10, reorder: 10)
        func fates(_ seed: UInt64) -> [NetworkFate] {
            var random = SeededRandom(seed: seed)
            return (0..<200).map { _ in rates.draw(&random) }
        }
        #expect(fates(3) == fates(3))
        #expect(fates(3) != fates(4))
        let drawn = fates(3)
        for fate in [NetworkFate.loseRequest, .loseReply, .duplicate, .reorder, .deliver] { #expect(drawn.contains(fate)) }
        #expect(drawn.contains { if case .delay = $0 { true } else { false } })
    }

    @Test("A relay that answers heads as it gave them earlier: the device warns of a rollback, keeps its state, and syncs once the relay is honest")
    func rollbackWarns() async throws {
        let (couple, faults) = try await Self.make()
        defer { couple.remove() }
        _ = try await couple.alex.sync()
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Written before the rollback."))
        _ = try await couple.alex.sync()
        let served = Mutex(0)
        faults.lie.withLock {
            $0 = { observed in
                guard observed.request.path.hasSuffix("/heads"), !observed.earlier.isEmpty else { return nil }
                served.withLock { $0 += 1 }
                return .rollBack(to: 0)
            }
        }
        await #expect(throws: DeviceError.relayRolledBack) { _ = try await couple.alex.sync() }
        #expect(served.withLock { $0 } > 0)
        #expect(try Self.warnings(couple.alex).contains { $0.contains("fewer changes than it once did") })
        #expect(try couple.alex.show(id).record.body == "Written before the rollback.")
        faults.lie.withLock { $0 = { _ in nil } }
        _ = try await couple.alex.sync()
        _ = try await couple.sam.sync()
        #expect(try couple.sam.show(id).record.body == "Written before the rollback.")
        #expect(try Self.warnings(couple.sam).isEmpty)
    }

    @Test("A relay that withholds what its heads named: the device warns; once delivered, the entry arrives")
    func withholdingWarnsThenHeals() async throws {
        let (couple, faults) = try await Self.make()
        defer { couple.remove() }
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Held back by the relay."))
        _ = try await couple.alex.sync()
        let withheld = Mutex(0)
        faults.lie.withLock {
            $0 = { observed in
                guard let page = observed.page, page.complete, !page.envelopes.isEmpty else { return nil }
                withheld.withLock { $0 += page.envelopes.count }
                return .withhold(Array(page.envelopes.indices))
            }
        }
        _ = try await couple.sam.sync()
        #expect(withheld.withLock { $0 } > 0)
        #expect(throws: DeviceError.self) { try couple.sam.show(id) }
        #expect(try Self.warnings(couple.sam).contains { $0.contains("withholding") })
        faults.lie.withLock { $0 = { _ in nil } }
        _ = try await couple.sam.sync()
        #expect(try couple.sam.show(id).record.body == "Held back by the relay.")
        #expect(try Self.warnings(couple.alex).isEmpty)
    }

    @Test("A tampered envelope is refused and said so, a replayed one ignored and said so; both heal")
    func tamperAndReplay() async throws {
        for attack in [RelayAlteration.tamper(envelope: 0, byte: 40, mask: 0x20), .replay(envelope: 0)] {
            let (couple, faults) = try await Self.make()
            defer { couple.remove() }
            let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Altered on the way."))
            _ = try await couple.alex.sync()
            faults.lie.withLock { $0 = { observed in observed.page.map { $0.envelopes.isEmpty } == false ? attack : nil } }
            _ = try? await couple.sam.sync()
            faults.lie.withLock { $0 = { _ in nil } }
            let warning = if case .replay = attack { "(a replay)" } else { "refused from the relay" }
            #expect(try Self.warnings(couple.sam).contains { $0.contains(warning) }, "\(attack)")
            _ = try await couple.sam.sync()
            #expect(try couple.sam.show(id).record.body == "Altered on the way.")
        }
    }

    @Test("An alteration applies as given: a permutation reorders, indices are withheld, a rollback serves the remembered reply; one that does not fit leaves the reply as it is")
    func reorderedPages() throws {
        let page = FetchPage(envelopes: [[1], [2], [3]], complete: true)
        let reply = RelayReply(status: 200, body: page.body)
        let reordered = HostileRelayConnection.apply(.reorder([2, 0, 1]), to: reply, page: page, earlier: [])
        #expect(FetchPage(RelayRequest(method: "GET", target: "/v1/spaces/x/envelopes?vector="), reordered)?.envelopes == [[3], [1], [2]])
        // Not a permutation, or a page alteration of what is no page: left as it is.
        #expect(HostileRelayConnection.apply(.reorder([0, 0, 1]), to: reply, page: page, earlier: []) == reply)
        #expect(HostileRelayConnection.apply(.withhold([0]), to: reply, page: nil, earlier: []) == reply)
        let older = RelayReply(status: 200, body: [9])
        #expect(HostileRelayConnection.apply(.rollBack(to: 0), to: reply, page: page, earlier: [older]) == older)
        #expect(HostileRelayConnection.apply(.withhold([0, 2]), to: reply, page: page, earlier: []).body == FetchPage(envelopes: [[2]], complete: true).body)
    }
}

/// A relay that answers everything with 200 and records the order requests reached it.
struct RecordingConnection: RelayConnection {
    let arrived: Box<[String]>
    var origin: String { "http://recording.test" }

    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        arrived.value.append(request.target)
        return RelayReply(status: 200, body: [])
    }

    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {}
}
