import DuetCore
import DuetCrypto
import DuetStore
import DuetSync
import Foundation

/// One device's journal, opened but not unlocked: what it can say without the passphrase (its
/// status, devices, pairing), and the door to everything else (``unlock(_:)``). `duetd` needs
/// nothing more than this; `duet` is a thin client over it (issue #15).
public struct Device: Sendable {
    let store: Store
    public let environment: DeviceEnvironment

    /// The folder it lives in.
    public var home: String { store.home.path }

    /// The home an option, `$DUET_HOME`, `$XDG_DATA_HOME` or `$HOME` names (CLI.md).
    public static func home(option: String?, environment: [String: String]? = nil) -> String {
        Home.resolve(option: option, environment: environment ?? ProcessInfo.processInfo.environment).path
    }

    /// Whether `home` holds a journal.
    public static func exists(home: String) -> Bool { Home(path: home).exists }

    /// Where an editor may keep its temporary file for this home (0700, inside the home).
    public static func scratchFolder(home: String) -> String { Home(path: home).scratchPath }

    /// Opens the journal in `home`, wiping an editor's file a killed process left in its
    /// scratch folder (``ScratchFolder/wipeStale(home:)``).
    public static func open(home: String, environment: DeviceEnvironment = .system) throws(DeviceError) -> Device {
        let folder = Home(path: home)
        guard folder.exists else { throw .notInitialised(home: home) }
        ScratchFolder.wipeStale(home: home)
        return Device(store: try translatingErrors { try Store.open(home: folder) }, environment: environment)
    }

    /// Unlocks with the passphrase and applies what `duetd` (or a sync) stored since: what the
    /// partner wrote is readable as soon as the journal unlocks. On a read-only home (or a
    /// full disk) it waits for the next unlock that can write.
    public func unlock(_ passphrase: Passphrase) throws(DeviceError) -> UnlockedDevice {
        try opened(translatingErrors { try store.unlock(passphrase: passphrase.secret) })
    }

    /// The unlocked journal, with what arrived since applied.
    func opened(_ unlocked: UnlockedStore) throws(DeviceError) -> UnlockedDevice {
        do {
            try unlocked.materialise()
            // Once, after the upgrade that added threads to the store.
            try unlocked.indexReplies()
        } catch let error as StoreError where error.code == .readOnly || error.code == .diskFull {
            // Reading still works.
        } catch {
            throw DeviceError.from(error)
        }
        return UnlockedDevice(device: self, unlocked: unlocked)
    }

    /// The relay to use: `given` (checked), else the one remembered. Nothing is written here:
    /// an exchange remembers a relay once it answered (``remember(relay:)``), so a mistyped URL
    /// given to a command that then fails does not replace the one that works.
    public func relay(given: String?) throws(DeviceError) -> String {
        if let given { return try Self.checkedRelayURL(given) }
        guard let url = try translatingErrors({ try store.meta("relay") }) else { throw .noRelay }
        return url
    }

    /// Keeps `relay` as the one to use next time (a write only when it changed).
    func remember(relay: String) throws(DeviceError) {
        try translatingErrors {
            if try store.meta("relay") != relay { try store.setMeta("relay", relay) }
        }
    }

    /// `given` if it is an http(s) URL with a host.
    public static func checkedRelayURL(_ given: String) throws(DeviceError) -> String {
        guard let url = URL(string: given), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw .invalidRelayURL(given)
        }
        return given
    }
}
