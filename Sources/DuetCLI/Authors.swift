import DuetCore
import DuetStore

/// Names for the devices that signed changes. A device is named from its verified certificate
/// and its person from the keystore or the pairing exchange; text inside an entry never names
/// anyone.
struct Authors {
    let directory: Directory
    let me: DeviceID
    let myName: String

    init(_ unlocked: UnlockedStore) throws {
        directory = try unlocked.directory()
        me = unlocked.device
        myName = unlocked.keystore.name
    }

    private func device(_ id: DeviceID) -> Directory.Device? {
        directory.device(id)
    }

    /// The person: "Alex". A device no verified record names is shown as such, never guessed.
    func person(_ id: DeviceID) -> String {
        if id == me { return myName }
        return device(id)?.person ?? "unknown device \(String(describing: id).prefix(8))"
    }

    func isMine(_ id: DeviceID) -> Bool { id == me || device(id)?.isMine == true }

    /// "Sam (Sam's phone)".
    func personAndDevice(_ id: DeviceID) -> String {
        guard let name = device(id)?.name, !name.isEmpty else { return person(id) }
        return "\(person(id)) (\(name))"
    }
}
