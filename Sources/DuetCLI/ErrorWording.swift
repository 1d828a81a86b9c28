import DuetDevice

/// The CLI's English for every ``DeviceError``: what happened, and the `duet` command that
/// helps. The library below says neither.
extension DeviceError {
    var english: String {
        switch self {
        case .notInitialised(let home): "no Duet journal in \(home); run `duet init --name NAME` first, or pass --home"
        case .alreadyInitialised(let home): "\(home) already holds a Duet journal; nothing was changed (choose another --home)"
        case .wrongPassphrase: "wrong passphrase; nothing was changed"
        case .draftDamaged(let id): "draft \(id) cannot be opened: it is damaged or from another device; `duet draft discard \(id)` removes it"
        case .tooManyDrafts(let maximum): "\(maximum) drafts are kept already (`duet draft list`); discard some first"
        case .draftTooLarge(let maximum): "the text is larger than a draft keeps (\(maximum >> 20) MiB)"
        case .passphraseTooShort(let minimum): "the passphrase must be at least \(minimum) characters; a few words make a good one"
        case .passphraseNotUTF8: "the passphrase is not valid UTF-8"
        case .readOnly(let detail): "\(detail); choose another --home"
        case .diskFull(let detail): detail
        case .storage(let detail): detail
        case .notPaired: "shared entries need a partner: pair first with `duet pair invite` or `duet pair accept CODE`"
        case .awaitingKey: "this device has no key for the space's current epoch yet; run `duet sync` and try again"
        case .certificateExpired:
            "this device's certificate has expired, so nothing it writes would be accepted; link it again from another of your devices (`duet device link`)"
        case .changeTooLarge:
            "that change is larger than one change can be sent (it would touch too many pieces of text, or hold more than 1 MiB); nothing was written — make it in smaller steps"
        case .notAnEntryID(let text): "'\(Display.line(text))' is not an entry id: use 4 to 26 characters of the id `duet list` shows"
        case .unknownEntry(let prefix): "no entry has an id starting with \(prefix); `duet list` shows the ids"
        case .ambiguousEntry(let prefix, let matches, let more):
            "\(prefix) matches several entries (\(matches.joined(separator: ", "))\(more ? ", …" : "")); type more characters"
        case .entryGone(let id): "entry \(id) is gone"
        case .alreadyShared(let id): "entry \(id) is already shared; nothing was changed"
        case .deleted(let id): "entry \(id) is deleted; restore it first (`duet restore \(id)`)"
        case .alreadyDeleted(let id): "entry \(id) is already deleted; nothing was changed"
        case .notDeleted(let id): "entry \(id) is not deleted; nothing was changed"
        case .acknowledgingPrivate(let id): "entry \(id) is private: only your partner's shared entries can be acknowledged"
        case .acknowledgingOwn(let id): "entry \(id) is your own; acknowledgements are for your partner's entries"
        case .alreadyAcknowledged(let id): "you already acknowledged entry \(id); nothing was changed"
        case .sharedReplyToPrivate(let id): "a shared entry can only answer a shared entry: \(id) is private (`duet share` it first)"
        case .privateReplyToShared(let id): "entry \(id) is shared, so a reply to it is shared too (your partner reads it); leave out the private choice, or write a separate private entry"
        case .unknownFactor(let text, let known): "unknown factor '\(Display.line(text))'; the five are: \(known.joined(separator: ", "))"
        case .moodOutOfRange(let value): "mood must be from 1 to 5, not \(value)"
        case .tagSize(let maximum): "a tag must be 1 to \(maximum) bytes"
        case .titleTooLong(let maximum): "a title must be at most \(maximum) bytes"
        case .bodyTooLong(let count, let maximum): "the text is \(count) characters; an entry holds at most \(maximum)"
        case .notUTF8: "the text is not valid UTF-8; save it as UTF-8 and try again"
        case .emptySearch: "search for at least one character"
        case .nameSize(let maximum): "a name must be 1 to \(maximum) bytes"
        case .notADate(let text): "'\(Display.line(text))' is not a date; \(DateWording.accepted)"
        case .dateOutOfRange(let text): "'\(Display.line(text))' is too far away: entry times go from 1970 to 9999"
        case .skippedTime(let text, let zone): "'\(Display.line(text))' does not exist in \(Display.line(zone)): the clocks skip it that day; choose another time"
        case .importNotJSON(let format): "the file is not a JSON object; is it an export from \(format.rawValue)?"
        case .importNotDuet: "not a Duet export (format is not \"duet\")"
        case .importNewerVersion: "this Duet export is from a newer version; upgrade Duet"
        case .importNoKey: "this journal's keystore holds no personal key to import with; nothing was imported"
        case .importNoEntries(.duet): "the export has no entries list"
        case .importNoEntries(.jrnl): "not a jrnl JSON export: no \"entries\" list"
        case .importNoEntries(.dayone): "not a Day One JSON export: no \"entries\" list"
        case .importDamagedEntry(let index): "entry \(index) of the export is damaged; nothing was imported"
        case .importDamagedField(let field): "the export's \(field) is damaged; nothing was imported"
        case .importMissingDate(.jrnl, let index): "jrnl entry \(index) has no date; nothing was imported"
        case .importMissingDate(let format, let index):
            "\(format == .dayone ? "Day One" : format.rawValue) entry \(index) has no creationDate; nothing was imported"
        case .noRelay: "no relay: pass --relay URL (it is remembered), or give one to `duet init`"
        case .invalidRelayURL(let given): "'\(Display.line(given))' is not a relay URL: give one like http://127.0.0.1:8479"
        case .invalidCode(let kind): Self.english(ExchangeFailure.malformedCode(kind))
        case .relayUnreachable(let origin, let detail): "the relay at \(origin) cannot be reached (\(detail))"
        case .relayRefused(_, let code, let detail, let expected):
            "the relay refused (\(code)): \(detail)\(expected.map { code == "wrong-relay-url" ? "; otherwise run `duet sync --relay \($0)`" : "" } ?? "")"
        case .relayRolledBack:
            "the relay holds less than it once did (rolled back or replaced); nothing was exchanged there and nothing was changed here — check the relay"
        case .exchange(let reason, let next): Self.english(reason) + Self.english(next)
        case .noSuchDevice(let reference): "none of your current devices is '\(Display.line(reference))'; `duet device list` shows them"
        case .ambiguousDevice(let reference): "'\(Display.line(reference))' matches several of your devices; give more of the id"
        case .noIdentity: "this journal has no identity yet"
        case .noRecoveryCode: "could not make a recovery code"
        }
    }

    /// Why an exchange stopped, in a person's words (the next step follows it).
    static func english(_ reason: ExchangeFailure) -> String {
        switch reason {
        case .malformedCode(let kind):
            "that is not a \(kind == .pairing ? "pairing" : kind == .link ? "link" : "recovery") code: it has 26 letters and digits (dashes and spaces are ignored)"
        case .codeNotDerived: "could not derive a code"
        case .notInOwnLog: "this device is not in its own journal's membership log"
        case .coupleLogNotBuilt(let cause): "could not build the couple space's log (\(Display.line(cause)))"
        case .invitationUnanswered: "no answer from your partner in time; the code is no longer valid"
        case .answerInvalid(let cause): "the answer to this invitation was not valid (\(Display.line(cause))); nothing was paired — start again"
        case .acceptedByOwnIdentity: "the invitation was accepted by your own identity; pair with your partner's journal instead"
        case .partnerDidNotJoin: "your partner's device did not join the couple space in time; nothing was paired — start again"
        case .coupleLogDoesNotVerify(let cause):
            "the couple space's membership log from the relay does not verify (\(Display.line(cause))); nothing was paired"
        case .noInvitation:
            "no invitation waits under this code at this relay: the code is mistyped, expired (codes last 10 minutes) or already used, or your partner invited you through another relay; ask for a new code, and check that both of you use the same relay"
        case .invitationInvalid(let cause): "the invitation under this code is not valid (\(Display.line(cause))); ask your partner for a new one"
        case .ownInvitation: "this is your own invitation; your partner accepts it on their device"
        case .partnerDidNotAdd: "your partner's device did not add this one in time; nothing was paired — ask for a new code"
        case .wrongCoupleSpace: "the couple space on the relay is not the one your partner invited you to; nothing was paired"
        case .alreadyPaired(let partner): "this journal is already paired with \(partner.map(Display.line) ?? "your partner")"
        case .pairedOnAnotherDevice(let partner): "you are already paired with \(Display.line(partner)) on another of your devices"
        case .nothingUnderRecoveryCode: "this relay keeps nothing under that recovery code: check the code and the relay"
        case .recoveryDoesNotOpen: "what the relay keeps under that code does not open with it; nothing was created"
        case .linkUnanswered: "no new device asked in time; the code is no longer valid"
        case .linkRequestInvalid(let cause): "the new device's request was not valid (\(Display.line(cause))); nothing was linked"
        case .lacksSpaceKey: "this device lacks the current key of a space"
        case .otherDeviceDidNotAnswer: "your other device did not answer in time: check the code"
        case .linkReplyInvalid(let cause): "what came back was not valid (\(Display.line(cause))); nothing was created"
        case .revokingThisDevice: "this is the device you are using; revoke it from another of your devices"
        case .notOwnDevice: "that device is not one of yours in any space"
        }
    }

    /// A next step in the words of `duet`'s commands.
    static func english(_ next: NextStep?) -> String {
        switch next {
        case nil: ""
        case .syncThenRetry?: "; run `duet sync` and try again"
        case .inviteAgain?: " — run `duet pair invite` again"
        case .showPairing?: "; `duet pair status` shows the details"
        case .syncToBringCoupleSpace?: "; `duet sync` brings that couple space here"
        case .checkRecoveryOnAnotherDevice?: " (`duet status` on another of your devices says whether the code is stored there)"
        case .linkAgain?: " — run `duet device link` again"
        case .checkLinkIsWaiting?: ", and that `duet device link` is still waiting"
        case .listDevices?: "; `duet device list` shows them"
        case .useRelayURL(let url)?: "; run `duet sync --relay \(url)`"
        case .giveRelay?: ": run `duet sync --relay URL` once"
        case .syncOnceWithPassphrase?: ": run `duet sync` once with your passphrase"
        case .seeStatus?: "; see `duet status`"
        }
    }
}
