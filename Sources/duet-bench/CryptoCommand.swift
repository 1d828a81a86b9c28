import ArgumentParser
import DuetCore
import DuetCrypto
import DuetWire
import Foundation

/// `duet-bench crypto` (G8): DuetCrypto's seal+sign and verify+open of 1 KiB changes against the
/// same work done with bare libsodium calls in the same process; then the whole envelope (padding,
/// header as associated data, chain hash) and catch-up verification of 100,000 chained envelopes.
struct CryptoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "DuetCrypto against raw libsodium (1 KiB seal+sign, verify+open); envelopes; verifying a chain of 100,000.")

    @Option(help: "Messages per timed run.") var messages = 20_000
    @Option(help: "Envelopes in the verified chain.") var chain = 100_000
    @Option(help: "Fresh runs to take the median of.") var runs = 5
    @Flag(help: "Print one JSON object instead of text.") var json = false

    struct Report: Encodable {
        let messageBytes: Int
        let rawSealSignMicroseconds: Double
        let duetSealSignMicroseconds: Double
        let sealSignRatio: Double
        let rawVerifyOpenMicroseconds: Double
        let duetVerifyOpenMicroseconds: Double
        let verifyOpenRatio: Double
        let envelopeSealMicroseconds: Double
        let envelopeVerifyOpenMicroseconds: Double
        let chainVerifySeconds: Double
    }

    func run() throws {
        var random = SystemRandomNumberGenerator()
        let message = (0..<1024).map { _ in UInt8.random(in: 0...255, using: &random) }
        let associated = [UInt8](repeating: 7, count: 60)
        let raw = RawBaseline()
        let key = SymmetricKey.random(), signer = SigningKey.generate()
        var rawSeal: [Double] = [], duetSeal: [Double] = [], rawOpen: [Double] = [], duetOpen: [Double] = []
        var envelopeSeal: [Double] = [], envelopeOpen: [Double] = []
        let count = messages
        for _ in 0..<runs {
            // Alternate raw and Duet within each run, so drift on a shared machine hits both.
            var rawSealed: [([UInt8], [UInt8])] = []
            rawSeal.append(Measure.threadCPUMilliseconds { rawSealed = (0..<count).map { _ in raw.sealAndSign(message, associatedData: associated) } })
            var duetSealed: [([UInt8], Signature)] = []
            duetSeal.append(Measure.threadCPUMilliseconds {
                duetSealed = (0..<count).map { _ in
                    let sealed = AEAD.seal(message, using: key, associatedData: associated)
                    return (sealed, signer.signature(for: sealed))
                }
            })
            rawOpen.append(Measure.threadCPUMilliseconds {
                for (sealed, signature) in rawSealed { precondition(raw.verifyAndOpen(sealed, signature: signature, associatedData: associated) != nil) }
            })
            duetOpen.append(Measure.threadCPUMilliseconds {
                for (sealed, signature) in duetSealed {
                    precondition(signer.verifyingKey.isValidSignature(signature, for: sealed))
                    precondition((try? AEAD.open(sealed, using: key, associatedData: associated)) != nil)
                }
            })
            var envelopes: [Envelope] = []
            let space = SpaceID.random(), device = WireDeviceID(verifyingKey: signer.verifyingKey)
            envelopeSeal.append(Measure.threadCPUMilliseconds {
                var previous = Digest.zero
                envelopes = (0..<count).map { index in
                    let envelope = Envelope.seal(message, header: Envelope.Header(space: space, epoch: 1, device: device, seq: UInt64(index + 1), previous: previous),
                                                 contentKey: key, signingKey: signer)
                    previous = envelope.hash
                    return envelope
                }
            })
            envelopeOpen.append(Measure.threadCPUMilliseconds {
                for envelope in envelopes {
                    precondition((try? envelope.verify(signer: signer.verifyingKey)) != nil)
                    precondition((try? envelope.open(contentKey: key)) != nil)
                }
            })
        }
        // Catch-up verification: parse, check the signature and the hash chain of each.
        let space = SpaceID.random(), device = WireDeviceID(verifyingKey: signer.verifyingKey)
        var previous = Digest.zero
        var chained: [[UInt8]] = []
        for index in 0..<chain {
            let envelope = Envelope.seal(Array(message.prefix(200)), header: Envelope.Header(space: space, epoch: 1, device: device, seq: UInt64(index + 1), previous: previous),
                                         contentKey: key, signingKey: signer)
            previous = envelope.hash
            chained.append(envelope.bytes)
        }
        let chainSeconds = Measure.threadCPUMilliseconds {
            var expected = Digest.zero
            for bytes in chained {
                guard let envelope = try? Envelope(bytes: bytes), envelope.header.previous == expected,
                      (try? envelope.verify(signer: signer.verifyingKey)) != nil else { preconditionFailure("chain broke") }
                expected = envelope.hash
            }
        } / 1000
        func perMessage(_ values: [Double]) -> Double { Summary(values).median * 1000 / Double(count) }
        let report = Report(
            messageBytes: message.count,
            rawSealSignMicroseconds: perMessage(rawSeal), duetSealSignMicroseconds: perMessage(duetSeal),
            sealSignRatio: perMessage(duetSeal) / perMessage(rawSeal),
            rawVerifyOpenMicroseconds: perMessage(rawOpen), duetVerifyOpenMicroseconds: perMessage(duetOpen),
            verifyOpenRatio: perMessage(duetOpen) / perMessage(rawOpen),
            envelopeSealMicroseconds: perMessage(envelopeSeal), envelopeVerifyOpenMicroseconds: perMessage(envelopeOpen),
            chainVerifySeconds: chainSeconds)
        if json { return try printJSON(report) }
        print(String(format: "seal+sign 1 KiB:    raw libsodium %.2f µs, DuetCrypto %.2f µs (%.2f×)", report.rawSealSignMicroseconds, report.duetSealSignMicroseconds, report.sealSignRatio))
        print(String(format: "verify+open 1 KiB:  raw libsodium %.2f µs, DuetCrypto %.2f µs (%.2f×)", report.rawVerifyOpenMicroseconds, report.duetVerifyOpenMicroseconds, report.verifyOpenRatio))
        print(String(format: "whole envelope:     seal %.2f µs, verify+open %.2f µs", report.envelopeSealMicroseconds, report.envelopeVerifyOpenMicroseconds))
        print(String(format: "verify a chain of %d envelopes (parse, chain, signature), one core: %.2f s", chain, report.chainVerifySeconds))
    }
}
