import HearsayNode
import Realms

/// What the chat screen asks of the node; `ChatCommand` turns each into a control request and
/// hands the answer back (`loaded`, `sent`, `fail`...).
enum ChatCommandAction: Equatable, Sendable {
    case send(peer: String, text: String)
    /// Load the history (and make it the current session); PEER as the user typed it, or an id.
    case open(peer: String)
    case markRead(peer: String)
    case answer(peer: String, accept: Bool)
    /// `list`, `add` or `rm`.
    case friends(action: String, peer: String?)
    case status(String, text: String?)
    case typing(peer: String, on: Bool)
    /// Reload people and requests (after the node came back).
    case refresh
    /// Draw every row again (Ctrl-L).
    case redraw
    case quit
}

/// The state of `hearsay chat`'s screen, without any IO: events from the node and keys from the
/// user go in, actions for the node and the lines to draw come out.
struct ChatScreen {
    /// An open conversation (a tab).
    struct Session: Equatable {
        /// The other side's node id (base32).
        var peer: String
        var messages: [MessageRow] = []
        /// Whether the stored history was loaded (tabs opened by an incoming message have only
        /// what came since).
        var loaded = false
        /// Rows scrolled up from the newest message (Page Up / Page Down).
        var scroll = 0
    }

    /// Someone in the list: a `PeerRow` of the node (the unread count lives in `unread`).
    struct Person: Equatable {
        var id: String
        var handle: String
        var realm: String
        var `protocol`: String
        /// Chat address, HOST:PORT, or `-`.
        var address: String
        /// The table's view: alive, suspect, dead, left, unknown.
        var state: String
        var status: String
        var status_text: String
        var online: Bool
        var friend: Bool
        /// Whether the realm's protocol encrypts.
        var secure: Bool

        init(id: String, handle: String, realm: String, protocol: String = "-", address: String = "-", state: String = "unknown",
             status: String = "offline", status_text: String = "", online: Bool = false, friend: Bool = false, secure: Bool) {
            self.id = id
            self.handle = handle
            self.realm = realm
            self.protocol = `protocol`
            self.address = address
            self.state = state
            self.status = status
            self.status_text = status_text
            self.online = online
            self.friend = friend
            self.secure = secure
        }

        init(_ r: PeerRow) {
            self.init(id: r.id, handle: r.handle, realm: r.realm, protocol: r.protocol, address: r.address, state: r.state,
                      status: r.status, status_text: r.status_text, online: r.online, friend: r.friend, secure: r.secure)
        }
    }

    /// A session request waiting for the user's answer.
    struct Request: Equatable {
        var peer: String
        var handle: String
    }

    /// A line for the status bar; errors show in red and stay longer.
    struct Note: Equatable {
        var text: String
        var error: Bool
        var atMillis: Int64
    }

    // Who this node is (from the `table` op and its own row events).
    var myID = ""
    var myHandle = "me"
    var myStatus = "available"
    var myStatusText = ""

    /// Everyone known, by node id; `orderedPeople` is the list as drawn.
    var people: [String: Person] = [:]
    /// Session requests waiting for an answer (`ask` policy).
    var requests: [Request] = []
    /// Open sessions, in tab order, and the index of the one shown.
    var sessions: [Session] = []
    var current: Int?
    /// Unread incoming messages by peer id.
    var unread: [String: Int] = [:]
    /// Peers typing now, with when they said so.
    var typing: [String: Int64] = [:]
    /// Peers with a live connection.
    var connected: Set<String> = []
    /// The person selected in the list (↑/↓), by id.
    var selected: String?
    /// The input line and the cursor in it (an index into `input`).
    var input: [Character] = []
    var cursor = 0
    var note: Note?
    var showHelp = false
    var nodeReachable = true
    /// Wall clock (ms since 1970) and the local offset from UTC, set by the command loop.
    var clockMillis: Int64 = 0
    var utcOffsetSeconds = 0

    /// Esc was pressed alone: a digit next jumps to that session.
    private var escapePending = false
    /// Whom this user told "typing", and when the last key was.
    private(set) var myTyping: (peer: String, lastMillis: Int64)?

    static let historyLimit = 200
    static let typingIdleMillis: Int64 = 5_000
    static let typingShownMillis: Int64 = 30_000
    static let maxMessagesPerSession = 2_000

    var currentPeer: String? { current.map { sessions[$0].peer } }

    /// Online first, then by handle.
    var orderedPeople: [Person] {
        people.values.sorted {
            ($0.online ? 0 : 1, $0.handle.lowercased(), $0.id) < ($1.online ? 0 : 1, $1.handle.lowercased(), $1.id)
        }
    }

    func handle(of id: String) -> String {
        if id == myID { return myHandle }
        if let p = people[id] { return p.handle }
        if let r = requests.first(where: { $0.peer == id }) { return r.handle }
        for s in sessions where s.peer == id {
            if let m = s.messages.last { return m.peer == m.from ? m.from_handle : m.to_handle }
        }
        return String(id.prefix(8))
    }

    // MARK: Loading what the node says

    /// This node's own row and everyone else's, from the `table` op.
    mutating func load(table rows: [TableRow], node: String?) {
        if let node { myID = node }
        for r in rows { apply(r) }
    }

    /// The `people` op: replaces the list; tabs open for conversations with unread messages.
    mutating func load(people rows: [PeerRow]) {
        var next: [String: Person] = [:]
        for r in rows where r.id != myID { next[r.id] = Person(r) }
        people = next
        for r in rows where r.id != myID {
            unread[r.id] = r.unread
            if r.unread > 0 && r.id != currentPeer { _ = sessionIndex(r.id) }
        }
        if selected == nil || people[selected!] == nil { selected = orderedPeople.first?.id }
    }

    mutating func load(requests rows: [RequestRow]) { requests = rows.map { Request(peer: $0.peer, handle: $0.handle) } }

    /// A table row: this node's status, or a person's characteristics.
    mutating func apply(_ r: TableRow) {
        if r.id == myID {
            myHandle = r.handle
            myStatus = r.status
            myStatusText = r.status_text
            return
        }
        let online = r.state == "alive" || r.state == "suspect"
        var p = people[r.id] ?? Person(id: r.id, handle: r.handle, realm: r.realm, secure: true)
        p.handle = r.handle
        p.realm = r.realm
        p.protocol = r.protocol
        if let a = r.addresses.first { p.address = r.chat_port > 0 ? "\(a):\(r.chat_port)" : a }
        p.state = r.state
        p.status = r.status
        p.status_text = r.status_text
        p.online = online
        p.secure = r.realm == RealmProtocol.native.realm
        people[r.id] = p
        if selected == nil { selected = r.id }
    }

    /// One event of the node's `events` stream; returns what to do about it (mark read what
    /// arrives in the session on screen). Besides the node's types, the command loop sends
    /// `gone` (the stream broke, `detail` says why) and `back` (it is there again).
    @discardableResult
    mutating func handle(_ e: ChatEventLine) -> [ChatCommandAction] {
        switch e.type {
        case "row":
            if let r = e.row { apply(r) }
        case "message":
            guard let m = e.message else { break }
            let i = sessionIndex(m.peer)
            add(m, to: i)
            if people[m.peer] == nil {
                let incoming = m.direction == "in"
                people[m.peer] = Person(id: m.peer, handle: incoming ? m.from_handle : m.to_handle, realm: m.realm, secure: m.secure)
            }
            guard m.direction == "in" else { break }
            typing[m.peer] = nil
            if i == current { return [.markRead(peer: m.peer)] }
            unread[m.peer, default: 0] += 1
        case "state", "read":
            guard let id = e.id, let state = e.state, let peer = e.peer,
                let i = sessions.firstIndex(where: { $0.peer == peer }),
                let j = sessions[i].messages.lastIndex(where: { $0.id == id })
            else { break }
            if Self.rank(state) > Self.rank(sessions[i].messages[j].state) { sessions[i].messages[j].state = state }
        case "typing":
            guard let peer = e.peer else { break }
            typing[peer] = e.on == true ? clockMillis : nil
        case "request":
            guard let peer = e.peer else { break }
            let handle = e.handle ?? String(peer.prefix(8))
            if !requests.contains(where: { $0.peer == peer }) {
                requests.append(Request(peer: peer, handle: handle))
            }
            inform("\(handle) asks to open a session: /accept \(handle) or /decline \(handle)")
        case "session":
            switch e.state {
            case "open":
                if let peer = e.peer { connected.insert(peer) }
            case "closed":
                if let peer = e.peer {
                    connected.remove(peer)
                    requests.removeAll { $0.peer == peer }
                    typing[peer] = nil
                }
            case "refused":
                inform("a session was refused: \(e.detail ?? "no reason given")")
            default:
                break
            }
        case "gone":
            nodeReachable = false
            connected = []
            fail("lost the node (\(e.detail ?? "connection closed")); trying again…")
        case "back":
            nodeReachable = true
            inform("connected to the node again")
            return [.refresh]
        default:
            break
        }
        return []
    }

    // MARK: Answers to actions

    /// A history arrived: its session becomes current, with what is in it marked read.
    mutating func loaded(person: PeerRow, messages: [MessageRow]) -> [ChatCommandAction] {
        var actions = current.map { sessions[$0].peer } == person.id ? [] : stopTyping()
        let i = sessionIndex(person.id)
        let extra = sessions[i].messages.filter { m in !messages.contains { $0.id == m.id } }
        sessions[i].messages = messages + extra
        sessions[i].loaded = true
        sessions[i].scroll = 0
        people[person.id] = Person(person)
        current = i
        unread[person.id] = 0
        actions.append(.markRead(peer: person.id))
        return actions
    }

    /// Messages the node queued for us (the event stream brings them too; kept once).
    mutating func sent(_ rows: [MessageRow], note: String?) {
        for m in rows { add(m, to: sessionIndex(m.peer)) }
        if let note { inform(note) }
    }

    /// The node refused a message (the error is in the status bar): its text comes back to the
    /// input line, unless something new was typed meanwhile.
    mutating func unsent(_ text: String) {
        guard input.isEmpty else { return }
        input = Array(text)
        cursor = input.count
    }

    mutating func answered(peer: String, accept: Bool) {
        let handle = handle(of: peer)
        requests.removeAll { $0.peer == peer || $0.handle == peer }
        inform(accept ? "accepted \(handle): the session opens" : "declined \(handle)")
    }

    /// The friends list after `action` on `peer`.
    mutating func friendsChanged(action: String, peer: String?, friends: [PeerRow]) {
        let ids = Set(friends.map(\.id))
        for id in people.keys { people[id]?.friend = ids.contains(id) }
        for f in friends where people[f.id] == nil { people[f.id] = Person(f) }
        switch action {
        case "add": inform("\(peer ?? "?") is a friend now")
        case "rm": inform("\(peer ?? "?") is no longer a friend")
        default:
            inform(friends.isEmpty ? "no friends yet: /add PEER"
                : "friends: " + friends.map { "\($0.handle) (\($0.online ? $0.status : "offline"))" }.joined(separator: ", "))
        }
    }

    mutating func inform(_ text: String) { note = Note(text: TerminalText.safe(text), error: false, atMillis: clockMillis) }
    mutating func fail(_ text: String) { note = Note(text: TerminalText.safe(text), error: true, atMillis: clockMillis) }

    /// Time passes: own typing stops after 5 s without a key, others' after 30 s, notes fade.
    mutating func tick() -> [ChatCommandAction] {
        var actions: [ChatCommandAction] = []
        if let t = myTyping, clockMillis - t.lastMillis >= Self.typingIdleMillis { actions += stopTyping() }
        typing = typing.filter { clockMillis - $0.value < Self.typingShownMillis }
        if let n = note, clockMillis - n.atMillis >= (n.error ? 20_000 : 10_000) { note = nil }
        return actions
    }

    // MARK: Sessions

    static func rank(_ state: String) -> Int {
        switch state {
        case "queued": 0
        case "delivered", "received": 1
        case "read": 2
        default: -1
        }
    }

    /// The tab of `peer`, opened (at the end, not current) if there is none.
    private mutating func sessionIndex(_ peer: String) -> Int {
        if let i = sessions.firstIndex(where: { $0.peer == peer }) { return i }
        sessions.append(Session(peer: peer))
        return sessions.count - 1
    }

    private mutating func add(_ m: MessageRow, to i: Int) {
        if let j = sessions[i].messages.lastIndex(where: { $0.id == m.id }) {
            if Self.rank(m.state) > Self.rank(sessions[i].messages[j].state) { sessions[i].messages[j].state = m.state }
            return
        }
        sessions[i].messages.append(m)
        if sessions[i].messages.count > Self.maxMessagesPerSession { sessions[i].messages.removeFirst() }
        if sessions[i].scroll > 0 { sessions[i].scroll += 1 }  // keep the same lines in view
    }

    /// Makes tab `i` current: it loads if it never did, else its unread messages are marked read.
    mutating func switchTo(_ i: Int) -> [ChatCommandAction] {
        guard sessions.indices.contains(i) else {
            fail(sessions.isEmpty ? "no session open: /open PEER" : "there are \(sessions.count) sessions")
            return []
        }
        var actions = i == current ? [] : stopTyping()
        current = i
        let peer = sessions[i].peer
        if !sessions[i].loaded {
            actions.append(.open(peer: peer))
        } else if unread[peer, default: 0] > 0 {
            actions.append(.markRead(peer: peer))
        }
        unread[peer] = 0
        return actions
    }

    private mutating func cycle(_ step: Int) -> [ChatCommandAction] {
        guard !sessions.isEmpty else {
            fail("no session open: select someone with ↑/↓ and press Enter, or /open PEER")
            return []
        }
        let n = sessions.count
        return switchTo(((current ?? (step > 0 ? -1 : 0)) + step + n) % n)
    }

    private mutating func closeCurrent() -> [ChatCommandAction] {
        guard let i = current else {
            fail("no session to close")
            return []
        }
        let actions = stopTyping()
        sessions.remove(at: i)
        current = nil
        return actions + (sessions.isEmpty ? [] : switchTo(min(i, sessions.count - 1)))
    }

    private mutating func openSelected() -> [ChatCommandAction] {
        guard let id = selected else {
            fail("nobody to open: /open PEER")
            return []
        }
        if let i = sessions.firstIndex(where: { $0.peer == id }), sessions[i].loaded { return switchTo(i) }
        return [.open(peer: id)]
    }

    private mutating func moveSelection(_ step: Int) {
        let list = orderedPeople.map(\.id)
        guard !list.isEmpty else { return }
        let at = selected.flatMap { list.firstIndex(of: $0) } ?? 0
        selected = list[max(0, min(list.count - 1, at + step))]
    }

    private mutating func stopTyping() -> [ChatCommandAction] {
        guard let t = myTyping else { return [] }
        myTyping = nil
        return [.typing(peer: t.peer, on: false)]
    }

    /// After an edit: "typing" goes to the current peer on the first key of a message.
    private mutating func typed() -> [ChatCommandAction] {
        guard let peer = currentPeer, !input.isEmpty, input.first != "/" else { return stopTyping() }
        if myTyping?.peer == peer {
            myTyping?.lastMillis = clockMillis
            return []
        }
        let actions = stopTyping()
        myTyping = (peer, clockMillis)
        return actions + [.typing(peer: peer, on: true)]
    }
}

// MARK: Keys and commands

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

/// Where things go on a screen of a given size: tabs on row 0, people (left) and the
/// conversation (right) below, the status bar and the input line at the bottom.
struct ChatLayout {
    let width: Int, height: Int
    /// Columns of the people list (0 when the screen is too narrow for it), and of the conversation.
    let left: Int, right: Int
    /// Rows between the tabs and the status bar.
    let body: Int

    init(width: Int, height: Int) {
        self.width = max(width, 20)
        self.height = max(height, 6)
        left = self.width >= 70 ? min(40, max(26, self.width / 3)) : 0
        right = self.width - left - (left > 0 ? 1 : 0)
        body = self.height - 3
    }
}

extension ChatScreen {
    /// The screen as `height` lines of `width` columns; with `styled`, with SGR attributes.
    func render(width: Int, height: Int, styled: Bool = false) -> [String] {
        let l = ChatLayout(width: width, height: height)
        var lines = [tabsRow(l.width).composed(width: l.width, styled: styled)]
        let (people, selectedRow) = peopleRows(l.left)
        let offset = selectedRow.map { max(0, min($0 + 2 - l.body, people.count - l.body)) } ?? 0
        let right = rightRows(l.right, height: l.body)
        for r in 0..<l.body {
            var line = ""
            if l.left > 0 {
                let p = offset + r < people.count ? people[offset + r] : ScreenRow([])
                line += p.composed(width: l.left, styled: styled) + ScreenRow([Run("│", .dim)]).composed(width: 1, styled: styled)
            }
            line += (r < right.count ? right[r] : ScreenRow([])).composed(width: l.right, styled: styled)
            lines.append(line)
        }
        lines.append(statusRow().composed(width: l.width, styled: styled))
        lines.append(inputView(l.width - 1).row.composed(width: l.width - 1, styled: styled))
        return lines
    }

    /// Where the terminal's cursor goes: in the input line.
    func cursorPosition(width: Int, height: Int) -> (row: Int, column: Int) {
        let l = ChatLayout(width: width, height: height)
        return (l.height - 1, inputView(l.width - 1).column)
    }

    private func isSecure(_ peer: String) -> Bool {
        people[peer]?.secure ?? sessions.first { $0.peer == peer }?.messages.last?.secure ?? true
    }

    /// `[1 ann (2)] [2 bob ✎]` … and, on the right, who and how this user is.
    private func tabsRow(_ width: Int) -> ScreenRow {
        var runs: [Run] = []
        if sessions.isEmpty { runs.append(Run("no sessions yet: select someone and press Enter, or /open PEER", .dim)) }
        for (i, s) in sessions.enumerated() {
            let n = unread[s.peer] ?? 0
            let label = "[\(i + 1) \(handle(of: s.peer))" + (n > 0 ? " (\(n))" : "") + (typing[s.peer] != nil ? " ✎" : "") + "]"
            runs += [Run(label, i == current ? .reverse : n > 0 ? .warn : .plain), Run(" ")]
        }
        let me = " \(myHandle) · \(myStatus)" + (myStatusText.isEmpty ? "" : " (\(myStatusText))")
        let right = nodeReachable ? [Run(me, .dim)] : [Run(" node unreachable", .alert), Run(me, .dim)]
        let rightWidth = min(width / 2, right.reduce(0) { $0 + TerminalText.width($1.text) })
        return ScreenRow(Self.pad(runs, to: width - rightWidth) + right)
    }

    /// `runs` cut or padded to exactly `width` columns.
    static func pad(_ runs: [Run], to width: Int) -> [Run] {
        var out: [Run] = []
        var used = 0
        for r in runs where used < width {
            let t = TerminalText.prefix(TerminalText.safe(r.text), columns: width - used)
            used += TerminalText.width(t)
            out.append(Run(t, r.tone))
        }
        if used < width { out.append(Run(String(repeating: " ", count: width - used))) }
        return out
    }

    private func statusRow() -> ScreenRow {
        if let n = note { return ScreenRow([Run(n.error ? " ✗ " + n.text : " " + n.text, n.error ? .alert : .accent)]) }
        return ScreenRow([Run(" Enter send · Tab/^N ^P switch · Alt-1..9 session · ↑↓ select, Enter/^O open · /help · ^C quit")],
                         fill: .reverse)
    }

    /// The prompt and the part of the input around the cursor, and the cursor's column.
    private func inputView(_ width: Int) -> (row: ScreenRow, column: Int) {
        var prompt = [Run("> ", .bold)]
        if let p = currentPeer {
            prompt = [Run(handle(of: p), .bold)] + (isSecure(p) ? [] : [Run(" unencrypted", .alert)]) + [Run("> ", .bold)]
        }
        let pw = prompt.reduce(0) { $0 + TerminalText.width(TerminalText.safe($1.text)) }
        let room = max(1, width - pw)
        let widths = input.map(TerminalText.width)
        var start = 0
        var before = widths[..<cursor].reduce(0, +)
        while before > room - 1 && start < cursor {
            before -= widths[start]
            start += 1
        }
        return (ScreenRow(prompt + [Run(String(input[start...]))]), min(width, pw + before))
    }

    /// The people list: requests waiting, then online and offline people, two rows each; and
    /// the row of the selected person.
    private func peopleRows(_ width: Int) -> (rows: [ScreenRow], selected: Int?) {
        guard width > 0 else { return ([], nil) }
        let all = orderedPeople
        let online = all.filter(\.online)
        var rows = [ScreenRow([Run(" People", .bold), Run("  \(online.count) online", .dim)])]
        var selectedRow: Int?
        if !requests.isEmpty {
            rows.append(ScreenRow([Run("─ requests (\(requests.count)) " + String(repeating: "─", count: width), .alert)]))
            for r in requests {
                rows.append(ScreenRow([Run(" ? \(r.handle) asks for a session", .alert)]))
                rows.append(ScreenRow([Run("   /accept \(r.handle) · /decline \(r.handle)", .dim)]))
            }
        }
        for (title, group) in [("online", online), ("offline", all.filter { !$0.online })] where !group.isEmpty {
            rows.append(ScreenRow([Run("─ \(title) (\(group.count)) " + String(repeating: "─", count: width), .dim)]))
            for p in group {
                if p.id == selected { selectedRow = rows.count }
                rows += personRows(p, width: width)
            }
        }
        if all.isEmpty { rows.append(ScreenRow([Run(" nobody yet: people appear as gossip finds them", .dim)])) }
        return (rows, selectedRow)
    }

    private func personRows(_ p: Person, width: Int) -> [ScreenRow] {
        let selected = p.id == selected
        let n = unread[p.id] ?? 0
        let status = p.online ? p.status : "offline"
        let badge = n > 0 ? " (\(n))" : ""
        let mark = (selected ? ">" : " ") + (p.online ? "●" : "○") + (p.friend ? "★" : " ") + " "
        let nameWidth = max(4, width - TerminalText.width(mark) - TerminalText.width(status + badge) - 1)
        let name = Self.fit(p.handle, nameWidth)
        let statusTone: Tone = !p.online ? .dim : p.status == "available" ? .good : p.status == "busy" ? .alert : .warn
        let fill: Tone = selected ? .reverse : .plain
        let first = ScreenRow([Run(mark, p.online ? .good : .dim), Run(name, n > 0 ? .bold : .plain),
                               Run(String(repeating: " ", count: max(1, nameWidth - TerminalText.width(name) + 1))),
                               Run(status, statusTone), Run(badge, .warn)], fill: fill)
        let details = [p.realm, p.protocol, p.address].filter { !$0.isEmpty && $0 != "-" }.joined(separator: " ")
        let second = ScreenRow([Run("   ")] + (p.secure ? [] : [Run("⚠ ", .alert)])
                               + [Run(Self.fit(details, width - 3 - (p.secure ? 0 : 2)), .dim)], fill: fill)
        return [first, second]
    }

    /// The current conversation (or the help, or a welcome), `height` rows.
    private func rightRows(_ width: Int, height: Int) -> [ScreenRow] {
        if showHelp { return Self.help.map { ScreenRow([Run(" " + $0)]) } }
        guard let i = current else {
            return ["", " No session open.", "",
                    " Select someone in the list with ↑/↓ and press Enter (or Ctrl-O),",
                    " or type /open HANDLE.  /help lists the keys and commands."].map { ScreenRow([Run($0)]) }
        }
        let s = sessions[i]
        let p = people[s.peer]
        let secure = isSecure(s.peer)
        let status = p.map { $0.online ? $0.status : "offline" } ?? "unknown"
        var header = [ScreenRow([Run(" " + handle(of: s.peer), .bold), Run("  " + status),
                                 Run(p.map { $0.status_text.isEmpty ? "" : " — \($0.status_text)" } ?? ""),
                                 Run(connected.contains(s.peer) ? "  ● connected" : "", .good)])]
        let details = [p?.realm ?? "", p?.protocol ?? "", p?.address ?? "", String(s.peer.prefix(10))]
            .filter { !$0.isEmpty && $0 != "-" }.joined(separator: " · ")
        header.append(ScreenRow([Run(" " + details, .dim)]))
        if !secure {
            header.append(ScreenRow([Run(" ⚠ UNENCRYPTED: realm \(p?.realm ?? "?") does not encrypt; others on the network can read this", .alert)]))
        }
        header.append(ScreenRow([Run(String(repeating: "─", count: width), .dim)]))

        let area = max(0, height - header.count - 1)
        let all = messageRows(s, width: width)
        let scroll = min(s.scroll, max(0, all.count - area))
        let end = all.count - scroll
        var shown = Array(all[max(0, end - area)..<end])
        shown = Array(repeating: ScreenRow([]), count: area - shown.count) + shown
        var last = ScreenRow([])
        if typing[s.peer] != nil {
            last = ScreenRow([Run(" \(handle(of: s.peer)) is typing…", .dim)])
        } else if scroll > 0 {
            last = ScreenRow([Run(" ↓ \(scroll) more rows below: Page Down", .dim)])
        }
        return header + shown + [last]
    }

    /// Every message of `s` as rows: `HH:MM who  text  [delivered] [unencrypted]`, wrapped
    /// under the text column, with a `── 2026-11-24 ──` row where the day changes.
    func messageRows(_ s: Session, width: Int) -> [ScreenRow] {
        let nameWidth = min(12, max(TerminalText.width(myHandle), TerminalText.width(handle(of: s.peer)), 3))
        let indent = 1 + 5 + 1 + nameWidth + 1
        let textWidth = max(10, width - indent - 1)
        let today = localDay(clockMillis)
        var rows: [ScreenRow] = []
        var lastDay: Int64?
        for m in s.messages {
            let day = localDay(m.sent_ms)
            if day != lastDay && (lastDay != nil || day != today) {
                rows.append(ScreenRow([Run(" ── " + dayLabel(m.sent_ms) + " " + String(repeating: "─", count: width), .dim)]))
            }
            lastDay = day
            let out = m.direction == "out"
            let lines = TerminalText.wrap(TerminalText.safe(m.text), columns: textWidth)
            var marks: [Run] = []
            if out { marks.append(Run(" [\(m.state)]", m.state == "read" ? .good : m.state == "queued" ? .warn : .dim)) }
            if !m.secure { marks.append(Run(" [unencrypted]", .alert)) }
            let who = Self.fit(m.from_handle, nameWidth)
            for (k, text) in lines.enumerated() {
                let lead = k == 0
                    ? [Run(" " + timeLabel(m.sent_ms) + " ", .dim),
                       Run(who + String(repeating: " ", count: nameWidth - TerminalText.width(who) + 1), out ? .accent : .bold)]
                    : [Run(String(repeating: " ", count: indent))]
                rows.append(ScreenRow(lead + [Run(text)]))
            }
            let marksWidth = marks.reduce(0) { $0 + TerminalText.width($1.text) }
            if TerminalText.width(lines.last ?? "") + marksWidth <= textWidth {
                rows[rows.count - 1].runs += marks
            } else {
                rows.append(ScreenRow([Run(String(repeating: " ", count: indent))] + marks))
            }
        }
        return rows
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
    private static func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Days since 1970-01-01 in local time.
    func localDay(_ millis: Int64) -> Int64 {
        Self.floorDiv(Self.floorDiv(millis, 1000) + Int64(utcOffsetSeconds), 86_400)
    }

    /// `HH:MM`, local time.
    func timeLabel(_ millis: Int64) -> String {
        let seconds = Self.floorDiv(millis, 1000) + Int64(utcOffsetSeconds) - localDay(millis) * 86_400
        return Self.two(seconds / 3600) + ":" + Self.two(seconds % 3600 / 60)
    }

    /// `today`, `yesterday`, or `YYYY-MM-DD` (local time).
    func dayLabel(_ millis: Int64) -> String {
        let day = localDay(millis)
        let today = localDay(clockMillis)
        if day == today { return "today" }
        if day == today - 1 { return "yesterday" }
        let (y, m, d) = Self.civil(day)
        return "\(y)-" + Self.two(m) + "-" + Self.two(d)
    }

    /// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian).
    static func civil(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// `s` in at most `width` columns, cut with `…`.
    static func fit(_ s: String, _ width: Int) -> String {
        let safe = TerminalText.safe(s)
        if TerminalText.width(safe) <= width { return safe }
        return TerminalText.prefix(safe, columns: max(0, width - 1)) + "…"
    }
}
