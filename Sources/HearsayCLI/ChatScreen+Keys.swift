import HearsayNode
import Realms

extension ChatScreen {
    /// One key press: edits the input line, moves between sessions and people, or submits.
    mutating func key(_ k: Key) -> [ChatCommandAction] {
        if showHelp {
            showHelp = false
            if k == .escape || k == .enter { return [] }
        }
        if escapePending {
            escapePending = false
            if case .text(let s) = k, s.count == 1, let d = Int(s), d >= 0 { return switchTo(d == 0 ? 9 : d - 1) }
        }
        switch k {
        case .text(let s):
            let chars = Array(TerminalText.safe(s))
            input.insert(contentsOf: chars, at: cursor)
            cursor += chars.count
            return typed()
        case .enter:
            return submit()
        case .backspace, .ctrl("h"):
            guard cursor > 0 else { return [] }
            cursor -= 1
            input.remove(at: cursor)
            return typed()
        case .delete:
            if cursor < input.count { input.remove(at: cursor) }
            return typed()
        case .ctrl("d"):
            if input.isEmpty { return stopTyping() + [.quit] }
            if cursor < input.count { input.remove(at: cursor) }
            return typed()
        case .ctrl("c"):
            if input.isEmpty { return stopTyping() + [.quit] }
            input = []
            cursor = 0
            return stopTyping()
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(input.count, cursor + 1)
        case .home, .ctrl("a"): cursor = 0
        case .end, .ctrl("e"): cursor = input.count
        case .ctrl("u"):
            input.removeFirst(cursor)
            cursor = 0
            return typed()
        case .ctrl("k"):
            input.removeLast(input.count - cursor)
            return typed()
        case .ctrl("w"):
            var start = cursor
            while start > 0 && input[start - 1] == " " { start -= 1 }
            while start > 0 && input[start - 1] != " " { start -= 1 }
            input.removeSubrange(start..<cursor)
            cursor = start
            return typed()
        case .tab, .ctrl("n"): return cycle(1)
        case .backTab, .ctrl("p"): return cycle(-1)
        case .alt(let c):
            if let d = c.wholeNumberValue { return switchTo(d == 0 ? 9 : d - 1) }
        case .escape: escapePending = true
        case .up: moveSelection(-1)
        case .down: moveSelection(1)
        case .ctrl("o"): return openSelected()
        case .pageUp, .pageDown:
            guard let i = current else { break }
            let step = 10 * (k == .pageUp ? 1 : -1)
            sessions[i].scroll = max(0, sessions[i].scroll + step)
        case .ctrl("l"): return [.redraw]
        default: break
        }
        return []
    }

    /// Enter: a message for the current session, a `/command`, or (on an empty line) opening the
    /// selected person.
    private mutating func submit() -> [ChatCommandAction] {
        let line = String(input)
        let trimmed = line.trimmed
        if trimmed.isEmpty {
            input = []
            cursor = 0
            return openSelected()
        }
        if trimmed.hasPrefix("/") && !trimmed.hasPrefix("//") {
            input = []
            cursor = 0
            return command(trimmed)
        }
        guard let peer = currentPeer else {
            fail("no session to send to: select someone with ↑/↓ and press Enter, or /open PEER (your text is kept)")
            return []
        }
        input = []
        cursor = 0
        let text = trimmed.hasPrefix("//") ? String(line.drop { $0 == " " }.dropFirst()) : line
        sessions[current!].scroll = 0
        return stopTyping() + [.send(peer: peer, text: text)]
    }

    /// `/open PEER`, `/close`, `/friends`, `/add PEER`, `/rm PEER`, `/accept [PEER]`,
    /// `/decline [PEER]`, `/status available|away|busy [TEXT]`, `/help`, `/quit`.
    mutating func command(_ line: String) -> [ChatCommandAction] {
        let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let name = words.first?.lowercased() else { return [] }
        let arg = words.count > 1 ? words[1] : nil
        switch name {
        case "open", "o":
            if let arg { return [.open(peer: arg)] }
            return openSelected()
        case "close":
            return closeCurrent()
        case "friends":
            return [.friends(action: "list", peer: nil)]
        case "add", "rm", "remove":
            guard let arg else {
                fail("/\(name) needs a PEER: a handle or an id prefix")
                return []
            }
            return [.friends(action: name == "add" ? "add" : "rm", peer: arg)]
        case "accept", "decline":
            let match = arg.map { a in requests.filter { $0.handle == a || $0.peer.hasPrefix(a.lowercased()) } } ?? requests
            if let arg, match.count != 1 { return [.answer(peer: arg, accept: name == "accept")] }
            guard match.count == 1 else {
                fail(requests.isEmpty ? "no session request waits" : "several requests wait: /\(name) PEER")
                return []
            }
            return [.answer(peer: match[0].peer, accept: name == "accept")]
        case "status":
            guard let arg, ["available", "away", "busy"].contains(arg) else {
                fail("/status available|away|busy [TEXT]")
                return []
            }
            let text = words.dropFirst(2).joined(separator: " ")
            return [.status(arg, text: text.isEmpty ? nil : text)]
        case "requests":
            inform(requests.isEmpty ? "no session request waits"
                : "waiting: " + requests.map(\.handle).joined(separator: ", ") + " (/accept PEER, /decline PEER)")
        case "help", "h", "?":
            showHelp = true
        case "quit", "q", "exit":
            return stopTyping() + [.quit]
        default:
            fail("unknown command /\(name): /help lists them")
        }
        return []
    }

    static let help: [String] = [
        "Keys",
        "  Enter            send the line to the current session",
        "  Enter (empty)    open a session with the selected person (also Ctrl-O)",
        "  ↑ / ↓            select in the people list",
        "  Tab / Ctrl-N     next session;  Shift-Tab / Ctrl-P  previous",
        "  Alt-1..9, Esc 1..9   session 1..9",
        "  PgUp / PgDn      scroll the conversation",
        "  ← → Home End, Ctrl-A/E/U/K/W   edit the line",
        "  Ctrl-L           redraw;   Ctrl-C / Ctrl-D (empty line)  quit",
        "",
        "Commands",
        "  /open PEER (/o)  open a session (PEER: a handle or an id prefix)",
        "  /close           close the current session",
        "  /friends         list friends;  /add PEER, /rm PEER",
        "  /accept [PEER], /decline [PEER]   answer a session request",
        "  /requests        list session requests waiting",
        "  /status available|away|busy [TEXT]",
        "  /help, /quit;   //text sends a line that starts with /",
        "",
        "Any key closes this help.",
    ]
}

// MARK: Drawing
