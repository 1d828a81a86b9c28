import Foundation

/// Where the checkout and the built products are, found from this file and the test binary so
/// that tests run the same from any working directory.
enum RepositoryLayout {
    /// The repository root (this file is `Tests/DuetArchitectureTests/RepositoryLayout.swift`).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder holding the built executables: the test bundle is built beside them.
    static var productsFolder: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        // On Linux the runner is `<products>/DuetPackageTests.xctest`; on macOS it lives inside a bundle.
        while folder.path != "/", !FileManager.default.fileExists(atPath: folder.appendingPathComponent("duet").path) {
            folder = folder.deletingLastPathComponent()
        }
        return folder
    }
}
