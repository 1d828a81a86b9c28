import DuetCLI

/// The `duet` executable: the commands live in DuetCLI.
@main
enum DuetMain {
    static func main() async {
        await DuetCommand.main()
    }
}
