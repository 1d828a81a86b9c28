import Foundation

/// Where the checkout and the built products are, found from this file and the test binary so
/// that tests run the same from any working directory.
enum RepositoryLayout {
    /// The repository root (this file is `Tests/DuetArchitectureTests/RepositoryLayout.swift`).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
