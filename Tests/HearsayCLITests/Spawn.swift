import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Child processes without Foundation's `Process`: with several suites spawning at once, its
/// `waitUntilExit` was seen to hang on a child that had already exited (never reaped). Here the
/// caller reaps its own children with `waitpid`, and outputs go to files (no pipe to drain, none
/// a daemon started by the child could hold open).
struct SpawnError: Error, CustomStringConvertible {
    let description: String
}

/// Starts `argv` (argv[0]: an absolute path). stdin is /dev/null; stdout and stderr go to files.
func spawn(_ argv: [String], environment: [String: String] = [:], stdout: String = "/dev/null",
           stderr: String = "/dev/null") throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup($0) } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
    guard rc == 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for `pid` to end: its exit status, or 128 + the signal that ended it.
@discardableResult
func waitExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// Runs `argv` to its end: status and both outputs.
func runToEnd(_ argv: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let base = NSTemporaryDirectory() + "hearsay-run-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: base + ".out"); try? FileManager.default.removeItem(atPath: base + ".err") }
    let pid = try spawn(argv, environment: environment, stdout: base + ".out", stderr: base + ".err")
    let status = waitExit(pid)
    let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return (status, out, err)
}

/// Polls `condition` every `every` microseconds until it holds (true) or `seconds` have passed
/// (false; it is checked once more at the deadline). Every bounded wait of these tests uses it.
func poll(_ seconds: Double, every: useconds_t = 100_000, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(every)
    }
}
