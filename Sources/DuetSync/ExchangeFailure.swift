/// Why a pairing, link, recovery or revocation stopped, as a fact: the client that shows it
/// words it (issue #15: English is rendered by the client only). A `cause` is the technical
/// name of what a lower layer refused (a decoding or log error), never bytes someone sent.
public enum ExchangeFailure: Sendable, Equatable {
    // Codes
    /// The text is not a code of this kind (26 Crockford characters, however grouped).
    case malformedCode(CodeKind)
    /// A fresh code could not be derived (the system's random source failed).
    case codeNotDerived

    // Pairing
    /// This device is not in its own journal's membership log (a sync brings it).
    case notInOwnLog
    /// The couple space's first records could not be put together.
    case coupleLogNotBuilt(cause: String)
    /// Nobody answered the invitation before its code expired.
    case invitationUnanswered
    /// The answer to an invitation did not open or decode.
    case answerInvalid(cause: String)
    /// The invitation was accepted by this person's own identity.
    case acceptedByOwnIdentity
    /// The partner's device did not join the couple space in time.
    case partnerDidNotJoin
    /// The couple space's membership log from the relay does not verify.
    case coupleLogDoesNotVerify(cause: String)
    /// No invitation waits under the code (mistyped, expired or used).
    case noInvitation
    /// The invitation under the code did not open or decode.
    case invitationInvalid(cause: String)
    /// The code is this person's own invitation.
    case ownInvitation
    /// The partner's device did not add this one in time.
    case partnerDidNotAdd
    /// The couple space on the relay is not the one the invitation named.
    case wrongCoupleSpace
    /// This journal is already paired, with `partner` (a name as stored, not yet sanitised for display).
    case alreadyPaired(partner: String?)
    /// This person paired on another of their devices, with `partner`.
    case pairedOnAnotherDevice(partner: String)

    // Recovery
    /// The relay keeps nothing under the recovery code.
    case nothingUnderRecoveryCode
    /// What the relay keeps under the code does not open with it.
    case recoveryDoesNotOpen

    // Linking and revocation
    /// No new device asked before the link code expired.
    case linkUnanswered
    /// The new device's request did not open or decode.
    case linkRequestInvalid(cause: String)
    /// This device lacks the current key of one of its spaces.
    case lacksSpaceKey
    /// The other device did not answer in time.
    case otherDeviceDidNotAnswer
    /// What the other device sent back did not open or decode.
    case linkReplyInvalid(cause: String)
    /// A device cannot revoke itself.
    case revokingThisDevice
    /// The device named is not one of this person's in any space.
    case notOwnDevice

    /// The kinds of one-time code.
    public enum CodeKind: Sendable, Equatable { case pairing, link, recovery }
}
