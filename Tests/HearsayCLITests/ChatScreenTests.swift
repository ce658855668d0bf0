import Foundation
import HearsayNode
import Testing

@testable import HearsayCLI

/// The chat screen without a terminal or a node: events and keys in, actions and lines out.
@Suite struct ChatScreenTests {
    static let ann = "annid2222233333444445555566"
    static let bob = "bobid2222233333444445555566"
    static let zoe = "zoeid2222233333444445555566"
    static let me = "meid22222333334444455555666"
    /// 2026-11-25 12:00:00 UTC.
    static let noon: Int64 = 1_795_608_000_000

    static func person(_ id: String, _ handle: String, online: Bool = true, status: String = "available", friend: Bool = false,
                       unread: Int = 0, realm: String = "hearsay", secure: Bool = true) -> PeerRow {
        let json = """
            {"id":"\(id)","handle":"\(handle)","realm":"\(realm)","protocol":"\(realm)/1","address":"127.0.0.9:7947",
             "state":"\(online ? "alive" : "unknown")","status":"\(status)","status_text":"","online":\(online),
             "friend":\(friend),"secure":\(secure),"unread":\(unread),"queued":0,"messages":\(unread)}
            """
        return try! JSONDecoder().decode(PeerRow.self, from: Data(json.utf8))
    }

    static func message(_ id: String, from peer: String, _ handle: String, _ text: String, out: Bool = false,
                        state: String = "received", secure: Bool = true, at: Int64 = noon) -> MessageRow {
        MessageRow(id: id, from: out ? me : peer, from_handle: out ? "me" : handle, to: out ? peer : me,
                   to_handle: out ? handle : "me", peer: peer, direction: out ? "out" : "in", text: text, sent_ms: at,
                   state: state, realm: secure ? "hearsay" : "xmpp", secure: secure)
    }

    /// A screen with ann (friend, online), bob (online) and zoe (offline), at noon UTC.
    static func screen() -> ChatScreen {
        var s = ChatScreen()
        s.myID = me
        s.myHandle = "me"
        s.clockMillis = noon
        s.load(people: [person(ann, "ann", friend: true), person(bob, "bob", status: "away"), person(zoe, "zoe", online: false)])
        return s
    }

    static func incoming(_ m: MessageRow) -> ChatEventLine { ChatEventLine(type: "message", message: m) }

    static func type(_ s: inout ChatScreen, _ text: String) -> [ChatCommandAction] { s.key(.text(text)) }

    @Test("an incoming message opens a tab with an unread count; the session on screen marks it read instead")
    func unreadCounts() {
        var s = Self.screen()
        #expect(s.handle(Self.incoming(Self.message("m1", from: Self.bob, "bob", "hi"))) == [])
        #expect(s.handle(Self.incoming(Self.message("m2", from: Self.bob, "bob", "there?"))) == [])
        #expect(s.unread[Self.bob] == 2)
        #expect(s.sessions.map(\.peer) == [Self.bob])
        #expect(s.current == nil)
        let screen = s.render(width: 120, height: 30).joined(separator: "\n")
        #expect(screen.contains("[1 bob (2)]"))
        #expect(screen.contains("away (2)"))  // the badge in the people list

        // The same message twice (the send answer and the event) is kept once.
        s.handle(Self.incoming(Self.message("m2", from: Self.bob, "bob", "there?")))
        #expect(s.sessions[0].messages.count == 2)

        // Once it is the current session, new messages are marked read at once.
        #expect(s.loaded(person: Self.person(Self.bob, "bob"), messages: []) == [.markRead(peer: Self.bob)])
        #expect(s.unread[Self.bob] == 0)
        #expect(s.handle(Self.incoming(Self.message("m3", from: Self.bob, "bob", "hello?"))) == [.markRead(peer: Self.bob)])
        #expect(s.unread[Self.bob] == 0)
    }

    @Test("switching sessions: Tab, Ctrl-P, Alt-N and Esc N; unread cleared and marked read; unloaded tabs load")
    func switching() {
        var s = Self.screen()
        _ = s.loaded(person: Self.person(Self.ann, "ann"), messages: [Self.message("a1", from: Self.ann, "ann", "one")])
        s.handle(Self.incoming(Self.message("b1", from: Self.bob, "bob", "two")))
        #expect(s.current == 0)
        #expect(s.unread[Self.bob] == 1)

        // bob's tab came from an event: its history loads when it is shown.
        #expect(s.key(.tab) == [.open(peer: Self.bob)])
        #expect(s.current == 1)
        #expect(s.unread[Self.bob] == 0)
        _ = s.loaded(person: Self.person(Self.bob, "bob"), messages: [Self.message("b1", from: Self.bob, "bob", "two")])

        s.handle(Self.incoming(Self.message("a2", from: Self.ann, "ann", "three")))
        #expect(s.render(width: 120, height: 30)[0].contains("[1 ann (1)] [2 bob]"))
        #expect(s.key(.ctrl("p")) == [.markRead(peer: Self.ann)])
        #expect(s.current == 0 && s.unread[Self.ann] == 0)
        #expect(s.key(.alt("2")) == [])
        #expect(s.current == 1)
        #expect(s.key(.escape) == [] && s.key(.text("1")) == [])
        #expect(s.current == 0)
        #expect(s.input.isEmpty)  // the digit after Esc jumped, it was not typed
        _ = s.key(.alt("7"))
        #expect(s.note?.error == true)
        #expect(s.key(.ctrl("n")) == [] && s.current == 1)
        _ = s.command("/close")
        #expect(s.sessions.map(\.peer) == [Self.ann] && s.current == 0)
    }

    @Test("the input line edits UTF-8 text, wide characters included, and keeps the cursor in view")
    func inputEditing() {
        var s = Self.screen()
        _ = Self.type(&s, "héllo 日本")
        #expect(String(s.input) == "héllo 日本" && s.cursor == 8)
        _ = s.key(.backspace)
        _ = s.key(.left)
        _ = Self.type(&s, "ü")
        #expect(String(s.input) == "héllo ü日")
        _ = s.key(.home)
        _ = Self.type(&s, "¡")
        _ = s.key(.end)
        _ = s.key(.ctrl("w"))
        #expect(String(s.input) == "¡héllo ")
        _ = s.key(.ctrl("a"))
        _ = s.key(.delete)
        #expect(String(s.input) == "héllo ")
        _ = s.key(.end)
        _ = Self.type(&s, "x\u{1B}[31m")  // pasted control bytes never reach the line as such
        #expect(!String(s.input).contains("\u{1B}"))
        _ = s.key(.ctrl("u"))
        #expect(s.cursor == 0 && s.input.isEmpty)
        _ = Self.type(&s, "abc")
        _ = s.key(.left)
        _ = s.key(.ctrl("k"))
        #expect(String(s.input) == "ab")
        _ = s.key(.ctrl("u"))

        // Wide characters count two columns for the cursor; a long line scrolls to keep it visible.
        _ = Self.type(&s, "日本")
        #expect(s.cursorPosition(width: 80, height: 24) == (row: 23, column: 2 + 4))
        _ = Self.type(&s, String(repeating: "x", count: 200))
        let line = s.render(width: 80, height: 24).last!
        #expect(line.hasSuffix("x ") || line.hasSuffix("x"))
        #expect(s.cursorPosition(width: 80, height: 24).column <= 79)
        #expect(s.key(.ctrl("c")) == [] && s.input.isEmpty)  // Ctrl-C clears a line, quits on an empty one
        #expect(s.key(.ctrl("c")) == [.quit])
        #expect(s.key(.ctrl("d")) == [.quit])
    }

    @Test("Enter sends to the current session, or runs a /command; errors go to the status bar")
    func commands() {
        var s = Self.screen()
        _ = Self.type(&s, "hello")
        #expect(s.key(.enter) == [])
        #expect(s.note?.error == true)
        #expect(String(s.input) == "hello")  // kept: nowhere to send it yet
        _ = s.key(.ctrl("u"))

        func run(_ line: String) -> [ChatCommandAction] {
            _ = Self.type(&s, line)
            return s.key(.enter)
        }
        #expect(run("/open ann") == [.open(peer: "ann")])
        #expect(run("/o bo") == [.open(peer: "bo")])
        #expect(run("/add bob") == [.friends(action: "add", peer: "bob")])
        #expect(run("/rm ann") == [.friends(action: "rm", peer: "ann")])
        #expect(run("/friends") == [.friends(action: "list", peer: nil)])
        #expect(run("/status away out for lunch") == [.status("away", text: "out for lunch")])
        #expect(run("/status busy") == [.status("busy", text: nil)])
        #expect(run("/status sleepy") == [])
        #expect(s.note?.error == true)
        #expect(run("/frobnicate") == [])
        #expect(s.note?.text.contains("/help") == true)
        #expect(run("/help") == [] && s.showHelp)
        #expect(s.render(width: 120, height: 30).joined().contains("/accept [PEER]"))
        _ = s.key(.escape)
        #expect(!s.showHelp)

        _ = s.loaded(person: Self.person(Self.ann, "ann"), messages: [])
        let typing = Self.type(&s, "hi ann")
        #expect(typing == [.typing(peer: Self.ann, on: true)])
        #expect(s.key(.enter) == [.typing(peer: Self.ann, on: false), .send(peer: Self.ann, text: "hi ann")])
        #expect(run("//etc/hosts is a file") == [.send(peer: Self.ann, text: "/etc/hosts is a file")])
        s.unsent("/etc/hosts is a file")  // the node refused it: back in the line, to fix and send again
        #expect(String(s.input) == "/etc/hosts is a file" && s.cursor == 20)
        _ = s.key(.ctrl("u"))
        #expect(run("/quit") == [.quit])

        // Enter on an empty line (or Ctrl-O) opens the selected person: ↓ from ann is bob.
        _ = s.key(.down)
        #expect(s.selected == Self.bob)
        #expect(s.key(.enter) == [.open(peer: Self.bob)])
        _ = s.key(.up)
        #expect(s.key(.ctrl("o")) == [])  // ann's session is open and loaded: a switch only
        #expect(s.current == 0)

        s.fail("nobody called zed is in the table")
        #expect(s.render(width: 120, height: 30)[28].contains("✗ nobody called zed"))
    }

    @Test("own typing stops after 5 s without a key; others' typing shows in the session and its tab")
    func typing() {
        var s = Self.screen()
        _ = s.loaded(person: Self.person(Self.ann, "ann"), messages: [])
        #expect(Self.type(&s, "h") == [.typing(peer: Self.ann, on: true)])
        #expect(Self.type(&s, "i") == [])
        s.clockMillis += 5_000
        #expect(s.tick() == [.typing(peer: Self.ann, on: false)])
        #expect(s.key(.backspace) == [.typing(peer: Self.ann, on: true)])
        #expect(s.key(.backspace) == [.typing(peer: Self.ann, on: false)])  // an empty line is not typing

        s.handle(ChatEventLine(type: "typing", peer: Self.ann, handle: "ann", on: true))
        var screen = s.render(width: 120, height: 30).joined(separator: "\n")
        #expect(screen.contains("ann is typing…") && screen.contains("[1 ann ✎]"))
        s.handle(Self.incoming(Self.message("a1", from: Self.ann, "ann", "done")))
        screen = s.render(width: 120, height: 30).joined(separator: "\n")
        #expect(!screen.contains("typing"))
    }

    @Test("session requests are listed on top and answered with /accept and /decline")
    func requests() {
        var s = Self.screen()
        s.handle(ChatEventLine(type: "request", peer: Self.zoe, handle: "zoe"))
        #expect(s.note?.text.contains("/accept zoe") == true)
        let lines = s.render(width: 120, height: 30)
        #expect(lines[2].contains("requests (1)") && lines[3].contains("? zoe asks for a session"))
        #expect(s.command("/accept") == [.answer(peer: Self.zoe, accept: true)])
        s.handle(ChatEventLine(type: "request", peer: Self.bob, handle: "bob"))
        #expect(s.command("/accept") == [])
        #expect(s.note?.error == true)
        #expect(s.command("/decline bob") == [.answer(peer: Self.bob, accept: false)])
        s.answered(peer: Self.bob, accept: false)
        #expect(s.requests.map(\.handle) == ["zoe"])
        s.handle(ChatEventLine(type: "session", state: "closed", peer: Self.zoe, handle: "zoe", detail: "timeout"))
        #expect(s.requests.isEmpty)
        #expect(s.command("/decline") == [])
    }

    @Test("the people list: online first, friends starred, realm, protocol, address, status; table rows update it")
    func peopleList() throws {
        var s = Self.screen()
        var lines = s.render(width: 120, height: 30)
        let left = lines.map { String($0.prefix(40)) }
        #expect(left[1].contains("People") && left[1].contains("2 online"))
        #expect(left[2].contains("online (2)"))
        #expect(left[3].contains(">●★ ann") && left[3].contains("available"))
        #expect(left[4].contains("hearsay hearsay/1 127.0.0.9:7947"))
        #expect(left[5].contains(" ●  bob") && left[5].contains("away"))
        #expect(left[7].contains("offline (1)"))
        #expect(left[8].contains("○  zoe") && left[8].contains("offline"))

        let row = """
            {"id":"\(Self.zoe)","handle":"zoé","realm":"xmpp","protocol":"xmpp/1","addresses":["10.0.0.7"],"port":7946,
             "chat_port":5298,"status":"busy","status_text":"in a meeting","state":"alive","version":"1.0","incarnation":1,
             "sequence":0,"origin":"\(Self.zoe)","age_seconds":0,"hops":1}
            """
        s.handle(ChatEventLine(type: "row", row: try JSONDecoder().decode(TableRow.self, from: Data(row.utf8))))
        lines = s.render(width: 120, height: 30)
        #expect(lines[2].contains("online (3)"))
        #expect(lines[7].contains("zoé") && lines[7].contains("busy"))
        #expect(lines[8].contains("⚠ xmpp xmpp/1 10.0.0.7:5298"))

        // Its own row is this node's status, in the top right corner.
        let mine = row.replacingOccurrences(of: "\"id\":\"\(Self.zoe)\"", with: "\"id\":\"\(Self.me)\"")
            .replacingOccurrences(of: "zoé", with: "me")
        s.handle(ChatEventLine(type: "row", row: try JSONDecoder().decode(TableRow.self, from: Data(mine.utf8))))
        #expect(s.render(width: 120, height: 30)[0].hasSuffix("me · busy (in a meeting)"))

        s.friendsChanged(action: "add", peer: "bob", friends: [Self.person(Self.ann, "ann"), Self.person(Self.bob, "bob")])
        #expect(s.people[Self.bob]?.friend == true)
        #expect(s.render(width: 120, height: 30)[5].contains("●★ bob"))
    }

    @Test("the conversation: time, who, text wrapped, own messages' state, and the unencrypted mark")
    func conversation() {
        var s = Self.screen()
        let long = String(repeating: "word ", count: 40)
        _ = s.loaded(person: Self.person(Self.ann, "ann"), messages: [
            Self.message("a1", from: Self.ann, "ann", "hi"),
            Self.message("a2", from: Self.ann, "ann", "how are you?", out: true, state: "queued"),
        ])
        s.sent([Self.message("a3", from: Self.ann, "ann", long, out: true, state: "delivered", at: Self.noon - 86_400_000)], note: nil)
        s.sent([Self.message("a4", from: Self.ann, "ann", "later", out: true, state: "queued")], note: "ann is offline")
        #expect(s.note?.text == "ann is offline")
        var screen = s.render(width: 120, height: 30).joined(separator: "\n")
        #expect(screen.contains("12:00 ann hi"))
        #expect(screen.contains("12:00 me  how are you? [queued]"))
        #expect(screen.contains("── yesterday ──"))  // another day: a separator with the date
        #expect(screen.contains("── today ──"))
        #expect(screen.contains("12:00 me  word word"))
        #expect(screen.contains("[delivered]"))
        #expect(!screen.contains("unencrypted") && !screen.contains("UNENCRYPTED"))

        s.handle(ChatEventLine(type: "state", id: "a2", state: "delivered", peer: Self.ann))
        s.handle(ChatEventLine(type: "read", id: "a2", state: "read", peer: Self.ann))
        s.handle(ChatEventLine(type: "state", id: "a2", state: "delivered", peer: Self.ann))  // late: no step back
        screen = s.render(width: 120, height: 30).joined(separator: "\n")
        #expect(screen.contains("how are you? [read]"))

        // A realm that does not encrypt: every message, the header and the prompt say so.
        _ = s.loaded(person: Self.person(Self.bob, "bob", realm: "xmpp", secure: false), messages: [
            Self.message("b1", from: Self.bob, "bob", "plain text", secure: false),
            Self.message("b2", from: Self.bob, "bob", "reply", out: true, state: "delivered", secure: false),
        ])
        let lines = s.render(width: 120, height: 30)
        screen = lines.joined(separator: "\n")
        #expect(screen.contains("bob plain text [unencrypted]"))
        #expect(screen.contains("me  reply [delivered] [unencrypted]"))
        #expect(screen.contains("⚠ UNENCRYPTED: realm xmpp"))
        #expect(lines.last!.hasPrefix("bob unencrypted> "))
    }

    @Test("every line has the screen's width; nothing a peer wrote reaches the terminal as a control sequence")
    func geometryAndSafety() {
        var s = Self.screen()
        let evil = "hi\u{1B}]0;owned\u{07}\u{1B}[2J\u{9B}31m 日本語 😀 e\u{301}"
        _ = s.loaded(person: Self.person(Self.ann, "ann"), messages: [Self.message("a1", from: Self.ann, "ann\u{1B}[5m", evil)])
        for (w, h) in [(120, 30), (80, 24), (50, 10), (10, 3)] {
            let lines = s.render(width: w, height: h)
            #expect(lines.count == max(h, 6))
            for (i, l) in lines.enumerated() {
                #expect(TerminalText.width(l) == max(w, 20) - (i == lines.count - 1 ? 1 : 0), "line \(i) at \(w)x\(h)")
                #expect(!l.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
            }
        }
        let styled = s.render(width: 120, height: 30, styled: true).joined()
        #expect(!styled.contains("\u{1B}]0;") && !styled.contains("\u{1B}[2J") && !styled.contains("\u{1B}[5m"))
        #expect(styled.contains("\u{1B}[7m"))  // the app's own attributes are there
    }

    @Test("times are local: HH:MM, and days are today, yesterday or the date")
    func times() {
        var s = Self.screen()
        s.utcOffsetSeconds = 3600
        #expect(s.timeLabel(Self.noon) == "13:00")
        #expect(s.timeLabel(Self.noon + 11 * 3_600_000) == "00:00")
        #expect(s.dayLabel(Self.noon) == "today")
        #expect(s.dayLabel(Self.noon - 86_400_000) == "yesterday")
        #expect(s.dayLabel(Self.noon - 400 * 86_400_000) == "2025-10-21")
        #expect(s.dayLabel(Self.noon + 11 * 3_600_000) == "2026-11-26")
        #expect(ChatScreen.civil(0) == (1970, 1, 1))
    }

    @Test("the key decoder: UTF-8 split across reads, arrows, Shift-Tab, Alt-digit, a lone Esc, control keys")
    func keyDecoder() {
        var d = KeyDecoder()
        #expect(d.feed([0x68, 0xC3]) == [.text("h")])
        #expect(d.hasPending)
        #expect(d.feed([0xA9, 0x0D]) == [.text("é"), .enter])
        #expect(d.feed(Array("\u{1B}[A\u{1B}[B\u{1B}OC\u{1B}[1;5D\u{1B}[Z\u{1B}[3~\u{1B}[5~\u{1B}[6~".utf8))
            == [.up, .down, .right, .left, .backTab, .delete, .pageUp, .pageDown])
        #expect(d.feed([0x1B, 0x32, 0x0E, 0x10, 0x0F, 0x09, 0x7F, 0x03, 0x04]) == [.alt("2"), .ctrl("n"), .ctrl("p"), .ctrl("o"), .tab, .backspace, .ctrl("c"), .ctrl("d")])
        #expect(d.feed([0x1B]) == [])
        #expect(d.flush() == [.escape])
        #expect(d.feed([0x1B, 0x5B]) == [])
        #expect(d.feed([0x48]) == [.home])
        #expect(d.feed(Array("日本😀".utf8)) == [.text("日本😀")])
    }

    @Test("terminal text: display widths, wrapping at spaces, safe text")
    func terminalText() {
        #expect(TerminalText.width("日本") == 4 && TerminalText.width("e\u{301}") == 1 && TerminalText.width("😀") == 2)
        #expect(TerminalText.wrap("aaa bbb cc", columns: 4) == ["aaa", "bbb", "cc"])
        #expect(TerminalText.wrap("abcdefgh", columns: 3) == ["abc", "def", "gh"])
        #expect(TerminalText.wrap("one\ntwo", columns: 10) == ["one", "two"])
        #expect(TerminalText.wrap("日本語", columns: 1) == ["日", "本", "語"])  // no endless loop on a too narrow column
        #expect(TerminalText.safe("a\u{1B}[1mb\tc\u{202E}d") == "a\u{FFFD}[1mb    cd")
        #expect(TerminalText.prefix("日本語", columns: 5) == "日本")
    }
}
