import DuetCrypto
import DuetWire
import Foundation
import Testing

/// `Protocol/vectors/wire-certificates.json`, written by `Protocol/tools/certificate_vectors.py`
/// from SPEC § 6.2 alone: device certificates, their refusals, and when each is valid by the
/// relay's clock (`DeviceCertificate.isValid(at:)`, what the relay asks on every append, fetch,
/// heads and live upgrade).
@Suite("Certificate vectors")
struct CertificateVectorTests {
    @Test("wire-certificates.json: certificates parse, verify and expire as listed, or fail as named")
    func certificates() throws {
        let cases = try WireVectorTests.load("wire-certificates.json")
        #expect(cases.count >= 10)
        var sawExpiry = false
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys).isSubset(of: ["id", "comment", "certificate", "result", "validAt"]), "case \(id)")
            let bytes = try #require(WireVectorTests.bytes(test["certificate"]), "case \(id)")
            let expected = try #require(test["result"] as? String, "case \(id)")
            var outcome = "success"
            do {
                let certificate = try DeviceCertificate(bytes: bytes)
                #expect(certificate.encoded == bytes, "case \(id): canonical")
                try certificate.verify()
                for (time, valid) in (test["validAt"] as? [String: Bool]) ?? [:] {
                    let now = try #require(UInt64(time), "case \(id)")
                    #expect(certificate.isValid(at: now) == valid, "case \(id): at \(time)")
                    if !valid { sawExpiry = true }
                }
            } catch let error as WireError {
                outcome = error.name
            } catch let error as CryptoError {
                outcome = error.name
            }
            #expect(outcome == expected, "case \(id)")
            #expect((test["validAt"] != nil) == (expected == "success"), "case \(id): validAt exactly for valid certificates")
        }
        #expect(sawExpiry)
    }
}
