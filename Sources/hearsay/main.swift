import ArgumentParser
import HearsayCLI

// ArgumentParser's async entry point, spelled out inside an async function: from top-level
// code, overload resolution picks the synchronous `main()`/`run()`, which refuse or ignore
// async subcommands such as `node`.
func runHearsay() async {
    do {
        var command = try HearsayCommand.parseAsRoot()
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        HearsayCommand.exit(withError: error)
    }
}

await runHearsay()
