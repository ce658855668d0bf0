import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real finch (Pidgin's terminal client, Debian package `finch`) with one enabled Bonjour
/// (XEP-0174) account, running in a detached tmux on a lab host: the other side of the
/// link-local XMPP interop tests (issue 6).
final class Finch: @unchecked Sendable {
    let lab: Lab
    let host: String
    let user: String
    let home: String
    /// tmux's own socket, so that nothing else's server is touched.
    let socket: String

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/finch") }

    /// Prepares `~/.purple/accounts.xml` (one `prpl-bonjour` account, auto-login) and starts finch.
    init(lab: Lab, host: String, user: String, first: String, last: String, port: Int = 5298) throws {
        self.lab = lab
        self.host = host
        self.user = user
        home = lab.root + "/finch-" + user
        socket = "\(lab.name)-\(user)"
        try FileManager.default.createDirectory(atPath: home + "/.purple", withIntermediateDirectories: true)
        let accounts = """
            <?xml version='1.0' encoding='UTF-8' ?>
            <account version='1.0'>
             <account>
              <protocol>prpl-bonjour</protocol>
              <name>\(user)</name>
              <settings>
               <setting name='first' type='string'>\(first)</setting>
               <setting name='last' type='string'>\(last)</setting>
               <setting name='port' type='int'>\(port)</setting>
              </settings>
              <settings ui='gnt-purple'>
               <setting name='auto-login' type='bool'>1</setting>
              </settings>
              <current_error/>
             </account>
            </account>
            """
        try accounts.write(toFile: home + "/.purple/accounts.xml", atomically: true, encoding: .utf8)
        try lab.lab(["exec", host, "tmux", "-L", socket, "new-session", "-d", "-s", user, "-x", "160", "-y", "45",
                     "exec env HOME=\(home) TERM=xterm LANG=C.UTF-8 finch"])
        let shown = try runToEnd(["/usr/bin/tmux", "-L", socket, "display-message", "-p", "-t", user, "#{pane_pid}"])
        pid = pid_t(shown.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// finch's process (the pane's), to stop it by PID.
    var pid: pid_t = 0

    /// What finch's screen shows now.
    func screen() -> String {
        (try? runToEnd(["/usr/bin/tmux", "-L", socket, "capture-pane", "-p", "-t", user]))?.out ?? ""
    }

    func keys(_ keys: String...) {
        _ = try? runToEnd(["/usr/bin/tmux", "-L", socket, "send-keys", "-t", user] + keys)
    }

    /// Whether finch still runs (its pane is alive).
    var running: Bool {
        let r = try? runToEnd(["/usr/bin/tmux", "-L", socket, "list-panes", "-t", user, "-F", "#{pane_dead}"])
        return r?.status == 0 && r?.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
    }

    /// Polls the screen every 200 ms, at most `seconds`.
    func eventually(_ seconds: Double, _ condition: (String) -> Bool) -> Bool {
        poll(seconds, every: 200_000) { condition(screen()) }
    }

    /// Whether `pid` is still finch: once finch has exited and been reaped its PID may belong to
    /// another process (parallel tests start many), which must never get our signals.
    var isFinch: Bool {
        guard pid > 0, let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
        return cmd.hasPrefix("finch") && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
    }

    /// Quits finch (SIGTERM to its PID, SIGKILL after 3 s) and its tmux server. Idempotent.
    func stop() {
        if isFinch {
            kill(pid, SIGTERM)
            for _ in 0..<30 where isFinch { usleep(100_000) }
            if isFinch { kill(pid, SIGKILL) }
        }
        pid = 0
        _ = try? runToEnd(["/usr/bin/tmux", "-L", socket, "kill-server"])
        for _ in 0..<20 where (try? runToEnd(["/usr/bin/tmux", "-L", socket, "has-session"]))?.status == 0 { usleep(100_000) }
    }
}
