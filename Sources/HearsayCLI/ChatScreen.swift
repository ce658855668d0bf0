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

    /// Someone in the list: a `PeerRow` of the node (the screen keeps unread counts in `unread`,
    /// not in the row's counters).
    typealias Person = PeerRow

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
    var escapePending = false
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
        for r in rows where r.id != myID { next[r.id] = r }
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
        people[person.id] = person
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
        for f in friends where people[f.id] == nil { people[f.id] = f }
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
    mutating func sessionIndex(_ peer: String) -> Int {
        if let i = sessions.firstIndex(where: { $0.peer == peer }) { return i }
        sessions.append(Session(peer: peer))
        return sessions.count - 1
    }

    mutating func add(_ m: MessageRow, to i: Int) {
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

    mutating func cycle(_ step: Int) -> [ChatCommandAction] {
        guard !sessions.isEmpty else {
            fail("no session open: select someone with ↑/↓ and press Enter, or /open PEER")
            return []
        }
        let n = sessions.count
        return switchTo(((current ?? (step > 0 ? -1 : 0)) + step + n) % n)
    }

    mutating func closeCurrent() -> [ChatCommandAction] {
        guard let i = current else {
            fail("no session to close")
            return []
        }
        let actions = stopTyping()
        sessions.remove(at: i)
        current = nil
        return actions + (sessions.isEmpty ? [] : switchTo(min(i, sessions.count - 1)))
    }

    mutating func openSelected() -> [ChatCommandAction] {
        guard let id = selected else {
            fail("nobody to open: /open PEER")
            return []
        }
        if let i = sessions.firstIndex(where: { $0.peer == id }), sessions[i].loaded { return switchTo(i) }
        return [.open(peer: id)]
    }

    mutating func moveSelection(_ step: Int) {
        let list = orderedPeople.map(\.id)
        guard !list.isEmpty else { return }
        let at = selected.flatMap { list.firstIndex(of: $0) } ?? 0
        selected = list[max(0, min(list.count - 1, at + step))]
    }

    mutating func stopTyping() -> [ChatCommandAction] {
        guard let t = myTyping else { return [] }
        myTyping = nil
        return [.typing(peer: t.peer, on: false)]
    }

    /// After an edit: "typing" goes to the current peer on the first key of a message.
    mutating func typed() -> [ChatCommandAction] {
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
