import Testing
@testable import DuetRelay

/// `--postgres URL` as an operator writes it (a new operator's trial of the deployment note).
@Suite("PostgreSQL location: the URL's sslmode")
struct PostgresLocationTests {
    @Test("sslmode=verify-full is taken as require (both verify the certificate and name); a mode this relay does not take is one sentence naming the ones it does")
    func sslModes() throws {
        for mode in ["disable", "require", "verify-full"] {
            #expect(throws: Never.self) { _ = try PostgresLocation(url: "postgres://duet@db.internal/duet?sslmode=\(mode)", environment: [:]) }
        }
        for mode in ["prefer", "allow", "verify-ca"] {
            #expect {
                _ = try PostgresLocation(url: "postgres://duet@db.internal/duet?sslmode=\(mode)", environment: [:])
            } throws: { error in
                (error as? PostgresLocation.Invalid)?.description
                    == "--postgres sslmode=\(mode) is not one this relay takes: disable, or require (the same as verify-full: the server's certificate and name are verified)"
            }
        }
    }
}
