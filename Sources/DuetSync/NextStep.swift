/// What the person can do about a failed exchange, as a fact: the client that shows the
/// failure words it (the CLI names its commands; an app its buttons). Nothing below the client
/// names a command.
public enum NextStep: Sendable, Equatable {
    /// A sync brings what is missing (a key, this device's own log); then try again.
    case syncThenRetry
    /// The invitation expired unanswered: invite again.
    case inviteAgain
    /// Already paired: the pairing's details say with whom.
    case showPairing
    /// Paired on another device of this person: a sync brings the couple space here.
    case syncToBringCoupleSpace
    /// Another device of this person's says whether its recovery blob is at the relay.
    case checkRecoveryOnAnotherDevice
    /// The link code expired unused: link again.
    case linkAgain
    /// Check that the other device is still waiting with its link code.
    case checkLinkIsWaiting
    /// The list of devices shows which ones there are.
    case listDevices
    /// Use the relay under the URL it expects to be reached at.
    case useRelayURL(String)
    /// No relay is known: give one to a sync (it is remembered).
    case giveRelay
    /// No delegated credential yet: one sync with the passphrase makes it.
    case syncOnceWithPassphrase
    /// The device's status says more (a rollback, a warning).
    case seeStatus
}
