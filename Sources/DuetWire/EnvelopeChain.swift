import DuetCrypto

/// The chain rule for one more envelope of a device in a space (SPEC § 5.3 step 3, § 6.4), the
/// one both holders of envelopes apply: the relay before it stores an append, and every device
/// before it stores what a fetch or the live socket brought. One definition, so that the relay
/// and its clients can never disagree about which envelope extends a chain.
///
/// Pure: it decides from the envelope and what the holder keeps of that device's chain. What
/// the holder does about a verdict — count a duplicate, keep fork evidence, stop a forked
/// device, charge a quota — is its own policy, decided around this rule.
public enum EnvelopeChain {
    /// What a holder keeps of one device's chain in one space: the highest seq it holds and the
    /// hash of that envelope. ``empty`` when it holds none: the next must be seq 1 naming zero.
    public struct Head: Hashable, Sendable {
        public let seq: UInt64
        /// BLAKE2b-256 of the envelope `seq`'s bytes; zero for ``empty``.
        public let hash: [UInt8]

        public init(seq: UInt64, hash: [UInt8]) {
            self.seq = seq
            self.hash = hash
        }

        public static let empty = Head(seq: 0, hash: Digest.zero.bytes)
    }

    /// How an envelope stands to the chain held for its device.
    public enum Verdict: Hashable, Sendable {
        /// The next seq, naming the head's hash: store it; it becomes the head.
        case extends
        /// The same bytes as the envelope held for its seq: acknowledge, store nothing.
        case duplicate
        /// Different bytes for a seq already held: the device signed two histories.
        case fork
        /// A seq past the next one: an earlier envelope is missing.
        case gap
        /// The next seq, naming another hash than the head's.
        case brokenChain
    }

    /// Judges `envelope` against `head`, the chain held for its device in its space. `heldBytes`
    /// is asked only for an envelope at or below the head, for the bytes held at the envelope's
    /// seq (nil if none are), so the common case reads nothing more.
    public static func judge(_ envelope: Envelope, head: Head, heldBytes: () throws -> [UInt8]?) rethrows -> Verdict {
        try judge(envelope, head: head, sameAsHeld: { try heldBytes() == envelope.bytes })
    }

    /// As ``judge(_:head:heldBytes:)``, for a holder that keeps each envelope's BLAKE2b-256
    /// beside it: `heldHash` gives the hash held at the envelope's seq (nil if none is), so a
    /// resend is told from a fork without reading the envelope back. Equal hashes stand for
    /// equal bytes here as everywhere in the chain (each envelope names its predecessor's hash).
    public static func judgeByHash(_ envelope: Envelope, head: Head, heldHash: () throws -> [UInt8]?) rethrows -> Verdict {
        try judge(envelope, head: head, sameAsHeld: { try heldHash() == envelope.hash.bytes })
    }

    private static func judge(_ envelope: Envelope, head: Head, sameAsHeld: () throws -> Bool) rethrows -> Verdict {
        let header = envelope.header
        // Parsing refuses seqs past this bound; judged here too so the rule is safe on its own
        // (holders keep seqs as signed 64-bit integers).
        guard header.seq <= Envelope.maximumSeq else { return .gap }
        if header.seq <= head.seq { return try sameAsHeld() ? .duplicate : .fork }
        // head.seq < header.seq ≤ Int64.max: the successor cannot overflow.
        guard header.seq == head.seq + 1 else { return .gap }
        guard header.previous.bytes == head.hash else { return .brokenChain }
        return .extends
    }
}
