import DuetCrypto
import DuetWire
import Testing

/// The one chain rule the relay's storage and every device's store judge by (SPEC § 5.3 step 3,
/// § 6.4); the callers' tests (RelayStorageTests, IngestTests) check what each does about it.
@Suite("Envelope chain rule")
struct EnvelopeChainTests {
    static let device = SigningKey.generate()
    static let key = SymmetricKey.random()
    static let space = SpaceID.random()

    static func envelope(seq: UInt64, previous: Digest = .zero, text: String = "a change") -> Envelope {
        Envelope.seal(Array(text.utf8),
                      header: Envelope.Header(space: space, epoch: 1, device: WireDeviceID(verifyingKey: device.verifyingKey), seq: seq, previous: previous),
                      contentKey: key, signingKey: device)
    }

    static func head(_ envelope: Envelope) -> EnvelopeChain.Head {
        EnvelopeChain.Head(seq: envelope.header.seq, hash: envelope.hash.bytes)
    }

    /// Judges with nothing held below the head: the held bytes must not be asked for.
    static func judgeAbove(_ envelope: Envelope, head: EnvelopeChain.Head) -> EnvelopeChain.Verdict {
        var asked = false
        let verdict = EnvelopeChain.judge(envelope, head: head) { asked = true; return nil }
        #expect(!asked, "only an envelope at or below the head needs the held bytes")
        return verdict
    }

    @Test("The first envelope extends an empty chain, and each next one names the one before")
    func extends() {
        let first = Self.envelope(seq: 1)
        #expect(Self.judgeAbove(first, head: .empty) == .extends)
        let second = Self.envelope(seq: 2, previous: first.hash)
        #expect(Self.judgeAbove(second, head: Self.head(first)) == .extends)
    }

    @Test("A seq past the next one is a gap, whatever it names")
    func gap() {
        let first = Self.envelope(seq: 1)
        #expect(Self.judgeAbove(Self.envelope(seq: 3, previous: first.hash), head: Self.head(first)) == .gap)
        #expect(Self.judgeAbove(Self.envelope(seq: 2), head: .empty) == .gap)
        // Past the bound stores keep (parsing refuses it; the rule stands alone without trapping).
        #expect(Self.judgeAbove(Self.envelope(seq: .max, previous: first.hash), head: EnvelopeChain.Head(seq: .max - 1, hash: first.hash.bytes)) == .gap)
    }

    @Test("The next seq naming another hash breaks the chain")
    func brokenChain() {
        let first = Self.envelope(seq: 1)
        #expect(Self.judgeAbove(Self.envelope(seq: 2, previous: Hash.digest([1])), head: Self.head(first)) == .brokenChain)
        #expect(Self.judgeAbove(Self.envelope(seq: 2), head: Self.head(first)) == .brokenChain, "a zero previous after seq 1")
    }

    @Test("At or below the head: the same bytes are a duplicate; other bytes, or none held, a fork")
    func duplicateAndFork() {
        let first = Self.envelope(seq: 1)
        let second = Self.envelope(seq: 2, previous: first.hash)
        let head = Self.head(second)
        #expect(EnvelopeChain.judge(first, head: head) { first.bytes } == .duplicate)
        #expect(EnvelopeChain.judge(second, head: head) { second.bytes } == .duplicate)
        let other = Self.envelope(seq: 1, text: "another history")
        #expect(EnvelopeChain.judge(other, head: head) { first.bytes } == .fork)
        #expect(EnvelopeChain.judge(first, head: head) { nil } == .fork, "a seq the head covers but nothing is held for")
    }

    @Test("The held bytes are read for the envelope's own seq, through the caller's error")
    func heldReadErrorsPropagate() {
        struct DiskFull: Error {}
        let first = Self.envelope(seq: 1)
        #expect(throws: DiskFull.self) {
            try EnvelopeChain.judge(first, head: Self.head(first)) { throw DiskFull() }
        }
    }
}

/// The admission both sides run before the chain rule (SPEC § 5.3 steps 1–2).
@Suite("Envelope admission")
struct EnvelopeAdmissionTests {
    static let signer = EnvelopeAdmission.Signer(key: EnvelopeChainTests.device.verifyingKey)
    static let own = WireDeviceID(verifyingKey: EnvelopeChainTests.device.verifyingKey)

    static func admit(_ bytes: [UInt8], to space: SpaceID = EnvelopeChainTests.space,
                      signer: EnvelopeAdmission.Signer? = signer) -> Result<Envelope, EnvelopeAdmission.Refusal> {
        EnvelopeAdmission.admit(bytes, to: space) { $0 == own ? signer : nil }
    }

    @Test("A member's envelope for its space is admitted")
    func admitted() throws {
        let envelope = EnvelopeChainTests.envelope(seq: 1)
        #expect(try Self.admit(envelope.bytes).get() == envelope)
    }

    @Test("Each step refuses in order: structure, space, signer, removal bound, signature")
    func refusals() {
        let envelope = EnvelopeChainTests.envelope(seq: 2, previous: Hash.digest([1]))
        #expect(Self.admit(Array(envelope.bytes.dropLast())) == .failure(.malformed(.truncated)))
        #expect(Self.admit(envelope.bytes, to: SpaceID.random()) == .failure(.otherSpace))
        #expect(Self.admit(envelope.bytes, signer: nil) == .failure(.unknownSigner))
        let removed = EnvelopeAdmission.Signer(key: EnvelopeChainTests.device.verifyingKey, lastSeq: 1)
        #expect(Self.admit(envelope.bytes, signer: removed) == .failure(.signedAfterRemoval))
        #expect(Self.admit(envelope.bytes, signer: EnvelopeAdmission.Signer(key: SigningKey.generate().verifyingKey)) == .failure(.badSignature))
        var tampered = envelope.bytes
        tampered[tampered.count - 1] ^= 1
        #expect(Self.admit(tampered) == .failure(.badSignature))
    }
}
