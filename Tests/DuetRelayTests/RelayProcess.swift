import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `duet-relay` process on 127.0.0.1 with a free port and a temporary data folder.
final class RelayProcess: @unchecked Sendable {
    let data: String
    private(set) var process: Process
    private(set) var port = 0
    var base: String { "http://127.0.0.1:\(port)" }

    init(data: String? = nil) throws {
        self.data = data ?? NSTemporaryDirectory() + "duet-relay-process-" + UUID().uuidString
        process = Process()
        try start()
    }

    /// Starts the relay and waits for its `listening on` line (not a sleep: the line is the
    /// readiness signal; 30 s is only a guard against a relay that never starts).
    func start() throws {
        process = Process()
        process.executableURL = BuildProducts.folder.appendingPathComponent("duet-relay")
        process.arguments = ["--port", "0", "--data", data, "--log-level", "warning"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        var buffer = Data()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
               let value = line.split(separator: ":").last.flatMap({ Int($0) }) {
                port = value
                return
            }
        }
        throw RelayTestFailure("duet-relay did not report a port")
    }

    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: data)
    }
}

struct RelayTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A minimal HTTP client for the relay's surface, as a second implementation would write it
/// from SPEC § 6.5.
struct RelayClient {
    let base: String
    let device: SigningKey
    var token: [UInt8] = []

    struct Reply {
        let status: Int
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var code: String? {
            (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["code"] as? String
        }
    }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, authorised: Bool = true) async throws -> Reply {
        guard let url = URL(string: base + path) else { throw RelayTestFailure("bad url \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body { request.httpBody = Data(body) }
        if authorised, !token.isEmpty {
            request.setValue("Bearer " + token.map { String(format: "%02x", $0) }.joined(), forHTTPHeaderField: "Authorization")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: [UInt8](data))
    }

    mutating func authenticate() async throws {
        let challenge = try await request("POST", "/v1/auth/challenge", body: device.verifyingKey.bytes, authorised: false)
        guard challenge.status == 200 else { throw RelayTestFailure("challenge: \(challenge.status) \(challenge.text)") }
        let message = Array("duet relay auth v1".utf8) + Array(base.utf8) + [0] + challenge.body
        let signature = device.signature(for: message)
        let session = try await request("POST", "/v1/auth/session", body: device.verifyingKey.bytes + challenge.body + signature.bytes, authorised: false)
        guard session.status == 200 else { throw RelayTestFailure("session: \(session.status) \(session.text)") }
        token = session.body
    }

    static func hex(_ space: SpaceID) -> String { space.bytes.map { String(format: "%02x", $0) }.joined() }
}
