import DuetCore
import DuetCrypto
import DuetStore

/// Who signed a change, as this device knows them: the device from its verified certificate,
/// the person from the keystore or the pairing exchange. Text inside an entry never names
/// anyone. Either name is nil when no verified record gives it; the client says so in its words.
public struct Author: Sendable, Equatable, Hashable {
    /// The signing device's id (hex of its 16-byte id).
    public let device: String
    public let person: String?
    public let deviceName: String?
    /// A device of this person's (this one or another).
    public let isMine: Bool
}

/// Names for the devices that signed changes.
struct Authors {
    let directory: Directory
    let me: DeviceID
    let myName: String

    init(_ unlocked: UnlockedStore) throws {
        directory = try unlocked.directory()
        me = unlocked.device
        myName = unlocked.keystore.name
    }

    func author(_ id: DeviceID) -> Author {
        let known = directory.device(id)
        let name = known?.name ?? ""
        return Author(device: Hex.encode(id.bytes), person: id == me ? myName : known?.person,
                      deviceName: name.isEmpty ? nil : name, isMine: isMine(id))
    }

    func isMine(_ id: DeviceID) -> Bool { id == me || directory.device(id)?.isMine == true }
}
