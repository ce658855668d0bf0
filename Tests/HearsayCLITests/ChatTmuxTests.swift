import Foundation
import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `hearsay chat` for real: in a detached tmux (its own server socket), against two nodes on
/// loopback (no mDNS), driven with `send-keys` and read with `capture-pane`.
@Suite(.serialized, .blockingLane) struct ChatTmuxTests {
    static let tmux: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    } ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
        .map { "\($0)/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Polls `condition` every 100 ms for at most `seconds`.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool { poll(seconds, condition) }

    // The time limit counts from when the test is scheduled, waiting for the blocking lane
    // included; its own waits are bounded (`eventually`), this only catches a hang.
    @Test("bob's message shows with an unread count, ann opens the session and replies, /quit restores the terminal",
          .enabled(if: tmux != nil, "tmux is not installed"), .timeLimit(.minutes(10)))
    func chatInTmux() throws {
        let tmux = try #require(Self.tmux)
        let exe = try hearsayExecutable()
        let c = Cluster()
        let server = "hearsay-test-\(getpid())"
        let session = "chat"
        var chatPID: pid_t?
        func tm(_ args: [String]) -> String {
            (try? runToEnd([tmux, "-L", server] + args, environment: ["TMUX": ""]).out) ?? ""
        }
        defer {
            if let chatPID { kill(chatPID, SIGTERM) }
            _ = tm(["kill-session", "-t", session])
            c.stopAll()
        }

        // ann and bob, chat ports chosen by the system (no clash with other suites' gossip ports).
        try c.start(0, handle: "ann", join: nil, extra: ["--chat-port", "0"])
        try c.start(1, handle: "bob", extra: ["--chat-port", "0"])
        #expect(c.eventually(10, nodes: [0, 1]) { $0.filter { $0.state == "alive" }.count == 2 })

        let status = c.root + "/chat.status", stty = c.root + "/stty.txt"
        let script = "'\(exe)' chat --data '\(c.data(0))'; echo $? > '\(status)'; stty -a > '\(stty)'"
        _ = tm(["new-session", "-d", "-s", session, "-x", "120", "-y", "30", script])
        func screen() -> String { tm(["capture-pane", "-p", "-t", session]) }
        #expect(Self.eventually(5) { screen().contains("People") && screen().contains("bob") }, "\(screen())")
        let shell = tm(["display", "-p", "-t", session, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        chatPID = children.split(separator: " ").first.flatMap { pid_t($0) }

        // A message from bob: a tab with its unread count, not shown as the current session.
        let sent = try runToEnd([exe, "send", "--data", c.data(1), "ann", "hello from bob"])
        #expect(sent.status == 0, "\(sent.err)")
        #expect(Self.eventually(5) { screen().contains("[1 bob (1)]") }, "\(screen())")
        #expect(!screen().contains("hello from bob"))

        // Alt-1 opens it: the history shows and the count is gone.
        _ = tm(["send-keys", "-t", session, "M-1"])
        #expect(Self.eventually(5) { screen().contains("hello from bob") && screen().contains("[1 bob]") }, "\(screen())")

        // A reply typed in the input line reaches bob's node.
        _ = tm(["send-keys", "-t", session, "-l", "hi bob, ça va? 日本"])
        _ = tm(["send-keys", "-t", session, "Enter"])
        func bobHas() -> Bool {
            guard let h = try? runToEnd([exe, "history", "--json", "--data", c.data(1), "ann"]), h.status == 0,
                let rows = try? JSONDecoder().decode([MessageRow].self, from: Data(h.out.utf8))
            else { return false }
            return rows.contains { $0.direction == "in" && $0.text == "hi bob, ça va? 日本" }
        }
        #expect(Self.eventually(5, bobHas))
        #expect(Self.eventually(5) { screen().contains("hi bob, ça va? 日本 [delivered]") }, "\(screen())")

        // /quit: exit status 0, and the terminal is back in cooked mode with echo.
        _ = tm(["send-keys", "-t", session, "-l", "/quit"])
        _ = tm(["send-keys", "-t", session, "Enter"])
        #expect(Self.eventually(5) { FileManager.default.fileExists(atPath: stty) && ((try? String(contentsOfFile: stty, encoding: .utf8)) ?? "").contains("echo") })
        chatPID = nil
        #expect((try? String(contentsOfFile: status, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        let modes = ((try? String(contentsOfFile: stty, encoding: .utf8)) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" })
        #expect(modes.contains("icanon") && modes.contains("echo") && modes.contains("isig") && modes.contains("icrnl"), "\(modes)")
    }
}
