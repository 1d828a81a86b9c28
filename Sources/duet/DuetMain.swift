import DuetCLI

/// The `duet` executable: the commands live in DuetCLI.
@main
enum DuetMain {
    static func main() async {
        StandardOutput.refuseIfClosed()
        await DuetCommand.main()
        // A command that failed has exited already; one that succeeded must also have been heard.
        StandardOutput.flushOrFail()
    }
}
