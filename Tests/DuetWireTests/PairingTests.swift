import DuetCrypto
import DuetWire
import Testing

@Suite("Pairing codes and safety numbers")
struct PairingTests {
    @Test("Both sides derive the same mailboxes and key from a code, however it was typed")
    func derivation() throws {
        let code = Pairing.makeCode()
        #expect(code.count == 26 + 5, "26 characters in groups of 5: \(code)")
        let inviter = try #require(Pairing.derive(code: code))
        let retyped = code.lowercased().replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "0", with: "o")
        let invitee = try #require(Pairing.derive(code: retyped))
        #expect(inviter.inviteMailbox == invitee.inviteMailbox && inviter.replyMailbox == invitee.replyMailbox)
        #expect(inviter.key == invitee.key)
        #expect(inviter.inviteMailbox != inviter.replyMailbox && inviter.inviteMailbox.count == 16)
        let other = try #require(Pairing.derive(code: Pairing.makeCode()))
        #expect(other.inviteMailbox != inviter.inviteMailbox && other.key != inviter.key)
        // A message sealed by one side opens on the other, not with another code's key.
        let sealed = AEAD.seal(Array("invite".utf8), using: inviter.key, associatedData: inviter.inviteMailbox)
        #expect(try AEAD.open(sealed, using: invitee.key, associatedData: invitee.inviteMailbox) == Array("invite".utf8))
        #expect(throws: CryptoError.authenticationFailure) { try AEAD.open(sealed, using: other.key, associatedData: inviter.inviteMailbox) }
    }

    @Test("Malformed codes are refused")
    func malformed() {
        #expect(Pairing.derive(code: "") == nil)
        #expect(Pairing.derive(code: "ABCDE") == nil)
        #expect(Pairing.derive(code: String(repeating: "U", count: 26)) == nil, "U is not in the alphabet")
        #expect(Pairing.derive(code: String(repeating: "A", count: 27)) == nil)
    }

    @Test("The safety number is the same on both sides and differs for any other key")
    func safetyNumber() {
        let alex = SigningKey.generate().verifyingKey, sam = SigningKey.generate().verifyingKey
        let number = Pairing.safetyNumber(alex, sam)
        #expect(number == Pairing.safetyNumber(sam, alex))
        #expect(number.split(separator: " ").count == 12 && number.split(separator: " ").allSatisfy { $0.count == 5 && $0.allSatisfy(\.isNumber) })
        #expect(number != Pairing.safetyNumber(alex, SigningKey.generate().verifyingKey))
    }
}
