import DuetCLI

DuetCommand.main()
