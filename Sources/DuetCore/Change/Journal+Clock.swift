/// Receiving a change as a device does (DESIGN §4): into the journal, and its clock reading
/// into the device's clock, so the next local reading orders after it — unless it is too far
/// ahead of local time, which the caller reports. The store's ingest and the test network both
/// receive through here, so the path the simulations test is the path people run.
extension Journal {
    /// What receiving one change did to the journal and to the clock.
    public struct Received: Equatable, Sendable {
        public var outcome: Outcome
        /// Every change applied by this call, in order (the received one and any it unblocked).
        public var applied: [Dot]
        public var clock: HybridLogicalClock.ReceiveOutcome
    }

    /// Receives `change` into this journal and its reading into `clock`, at local wall time
    /// `now` (ms since the epoch). A change already applied leaves the clock as it is: a
    /// re-delivery is not news, and is not reported twice.
    @discardableResult
    public mutating func receive(_ change: Change, clock: inout HybridLogicalClock, now: UInt64) -> Received {
        let journal = receive(change)
        let reading: HybridLogicalClock.ReceiveOutcome = journal.outcome == .duplicate ? .accepted : clock.receive(change.hlc, now: now)
        return Received(outcome: journal.outcome, applied: journal.applied, clock: reading)
    }
}
