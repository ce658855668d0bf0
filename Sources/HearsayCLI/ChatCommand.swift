import ArgumentParser
import Dispatch
import HearsayNode
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// `hearsay chat`: the terminal chat client. It talks to the running node only through the
/// control API: `table`, `people` and `requests` at start, the `events` stream on a thread of
/// its own, and one request per user action. The screen itself is `ChatScreen` (no IO); the
/// terminal is `Terminal`.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Chat in the terminal through the running node.",
        discussion: """
            People online are listed on the left (★ friends, realm, protocol, address, status, unread counts); \
            the current session on the right; tabs of open sessions on top.
            Keys: Enter sends; Enter on an empty line or Ctrl-O opens the selected person; ↑/↓ select; \
            Tab/Ctrl-N and Shift-Tab/Ctrl-P switch sessions; Alt-1..9 (or Esc then 1..9) jump; PgUp/PgDn scroll; \
            Ctrl-C or Ctrl-D on an empty line quit.
            Commands: /open PEER, /close, /friends, /add PEER, /rm PEER, /accept [PEER], /decline [PEER], \
            /requests, /status available|away|busy [TEXT], /help, /quit.
            """)

    @OptionGroup var data: DataOptions

    @Option(name: .long, help: "Open a session with PEER at start (a handle or an id prefix).")
    var peer: String?

    func run() throws {
        let client = data.client()
        var screen = ChatScreen()
        // Before the terminal changes: no node, or a node without chat, is a one-line error.
        do {
            let table = try client.request(ControlRequest(op: "table"))
            let people = try client.request(ControlRequest(op: "people"))
            guard people.ok else { throw Failure(people.error ?? "the node refused the people list") }
            screen.load(table: table.rows ?? [], node: table.node)
            screen.load(people: people.people ?? [])
            screen.load(requests: (try? client.request(ControlRequest(op: "requests")))?.requests ?? [])
        } catch let e as ControlClient.Failure {
            throw Failure(e.description)
        }
        let terminal: Terminal
        do { terminal = try Terminal() } catch { throw Failure(error.description) }
        let inbox = ChatInbox()
        inbox.start(path: client.path, wake: terminal.wakeWriter)
        var loop = ChatLoop(screen: screen, client: client, terminal: terminal, inbox: inbox)
        if let peer { loop.perform([.open(peer: peer)]) }
        loop.run()
        terminal.restore()
    }
}

/// Events from the node's stream, read on a thread of their own, waiting for the main loop
/// (which a byte on the terminal's wake-up pipe wakes).
final class ChatInbox: Sendable {
    private let events = Mutex<[ChatEventLine]>([])

    func push(_ e: ChatEventLine, wake: Int32) {
        events.withLock { $0.append(e) }
        Terminal.wake(wake)
    }

    func take() -> [ChatEventLine] {
        events.withLock { e in
            defer { e = [] }
            return e
        }
    }

    /// Reads `events` for ever; when the stream breaks, says `gone`, then tries again every
    /// second and says `back` once the node answers.
    func start(path: String, wake: Int32) {
        DispatchQueue(label: "hearsay.chat.events").async {
            var up = true
            while true {
                let client = ControlClient(path: path)
                if !up {
                    guard (try? client.request(ControlRequest(op: "requests")))?.ok == true else {
                        usleep(1_000_000)
                        continue
                    }
                    up = true
                    self.push(ChatEventLine(type: "back"), wake: wake)
                }
                var why = "the node closed the event stream"
                do {
                    try client.events { e in
                        self.push(e, wake: wake)
                        return true
                    }
                } catch let e as ControlClient.Failure {
                    why = e.description
                } catch {
                    why = "\(error)"
                }
                up = false
                self.push(ChatEventLine(type: "gone", detail: why), wake: wake)
                usleep(1_000_000)
            }
        }
    }
}

/// The main loop: poll(2) on the keyboard and the wake-up pipe, keys and events into the
/// screen, the screen's actions to the node, and a redraw after each round.
struct ChatLoop {
    var screen: ChatScreen
    let client: ControlClient
    let terminal: Terminal
    let inbox: ChatInbox
    var decoder = KeyDecoder()
    var running = true

    init(screen: ChatScreen, client: ControlClient, terminal: Terminal, inbox: ChatInbox) {
        self.screen = screen
        self.client = client
        self.terminal = terminal
        self.inbox = inbox
        self.screen.clockMillis = Self.now()
        self.screen.utcOffsetSeconds = Self.utcOffset()
    }

    mutating func run() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while running {
            screen.clockMillis = Self.now()
            perform(screen.tick())
            draw()
            var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: terminal.wakeFD, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, decoder.hasPending ? 40 : 1000)
            if n < 0 && errno != EINTR { break }
            screen.clockMillis = Self.now()
            if n == 0 && decoder.hasPending { keys(decoder.flush()) }
            if n > 0 && fds[1].revents != 0 {
                terminal.drainWake()
                for e in inbox.take() { perform(screen.handle(e)) }
            }
            if n > 0 && fds[0].revents != 0 {
                let got = buf.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                guard got > 0 else { break }  // the terminal went away
                keys(decoder.feed(Array(buf[..<got])))
            }
        }
    }

    private mutating func keys(_ keys: [Key]) {
        for k in keys where running { perform(screen.key(k)) }
    }

    private mutating func draw() {
        let size = terminal.size()
        terminal.draw(screen.render(width: size.width, height: size.height, styled: true),
                      cursor: screen.cursorPosition(width: size.width, height: size.height), size: size)
    }

    /// Does `actions` and those their answers lead to, in order.
    mutating func perform(_ actions: [ChatCommandAction]) {
        var queue = actions[...]
        while let a = queue.popFirst() { queue += execute(a) }
    }

    private mutating func execute(_ action: ChatCommandAction) -> [ChatCommandAction] {
        switch action {
        case .send(let peer, let text):
            if let r = ask(ControlRequest(op: "send", text: text, peer: peer)) {
                screen.sent(r.messages ?? [], note: r.note)
            } else {
                screen.unsent(text)
            }
        case .open(let peer):
            if let r = ask(ControlRequest(op: "history", peer: peer, limit: ChatScreen.historyLimit)), let person = r.person {
                return screen.loaded(person: person, messages: r.messages ?? [])
            }
        case .markRead(let peer):
            _ = ask(ControlRequest(op: "read", peer: peer), quiet: true)
        case .answer(let peer, let accept):
            if ask(ControlRequest(op: "answer", peer: peer, accept: accept)) != nil { screen.answered(peer: peer, accept: accept) }
        case .friends(let action, let peer):
            if let r = ask(ControlRequest(op: "friends", peer: peer, action: action)) {
                screen.friendsChanged(action: action, peer: peer, friends: r.people ?? [])
            }
        case .status(let status, let text):
            if ask(ControlRequest(op: "status", status: status, text: text)) != nil {
                screen.myStatus = status
                screen.inform("you are \(status)" + (text.map { ": \($0)" } ?? ""))
            }
        case .typing(let peer, let on):
            _ = ask(ControlRequest(op: "typing", peer: peer, on: on), quiet: true)
        case .refresh:
            if let t = ask(ControlRequest(op: "table"), quiet: true) { screen.load(table: t.rows ?? [], node: t.node) }
            if let p = ask(ControlRequest(op: "people")) { screen.load(people: p.people ?? []) }
            if let r = ask(ControlRequest(op: "requests"), quiet: true) { screen.load(requests: r.requests ?? []) }
        case .redraw:
            terminal.invalidate()
        case .quit:
            running = false
        }
        return []
    }

    /// One control request; a refusal or a missing node goes to the status bar (unless `quiet`).
    private mutating func ask(_ r: ControlRequest, quiet: Bool = false) -> ControlResponse? {
        do {
            let resp = try client.request(r)
            if resp.ok { return resp }
            if !quiet { screen.fail(resp.error ?? "the node refused \(r.op)") }
        } catch {
            if !quiet { screen.fail(error.description) }
        }
        return nil
    }

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Seconds east of UTC, as local time is now.
    static func utcOffset() -> Int {
        var t = time(nil)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }
}
