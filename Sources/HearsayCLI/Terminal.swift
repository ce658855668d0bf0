#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

// The terminal under `hearsay chat`: keys in (KeyDecoder), display widths and safe text
// (TerminalText), rows of styled text (ScreenRow), all without IO; and the device itself
// (Terminal: raw mode, the alternate screen, size, drawing, and putting everything back on
// exit or on a fatal signal).

/// One key press, as the chat screen sees it.
enum Key: Equatable, Sendable {
    /// Printable text: one or more characters (typed, or pasted).
    case text(String)
    case enter, backspace, delete, tab, backTab, escape
    case up, down, left, right, home, end, pageUp, pageDown
    /// Ctrl plus a letter ("a"..."z"), for those without a name above (Tab is Ctrl-I, Enter Ctrl-M).
    case ctrl(Character)
    /// Alt plus a printable character: the terminal sends Esc then the character.
    case alt(Character)
}

/// Turns the bytes a terminal sends into keys: UTF-8 text, control bytes, and the escape
/// sequences of xterm, tmux and the Linux console. Bytes that may be the start of a longer
/// sequence (a lone Esc, half a UTF-8 character) wait for the next `feed`, or for `flush` when
/// nothing more came (a lone Esc is then the Esc key).
struct KeyDecoder {
    private var pending: [UInt8] = []

    /// Whether bytes wait for more (the caller then calls `flush` after a short pause).
    var hasPending: Bool { !pending.isEmpty }

    mutating func feed(_ bytes: [UInt8]) -> [Key] {
        pending += bytes
        return decode(final: false)
    }

    /// What waits, taken as complete: a lone Esc is the Esc key.
    mutating func flush() -> [Key] { decode(final: true) }

    private mutating func decode(final: Bool) -> [Key] {
        var keys: [Key] = []
        var text: [UInt8] = []
        var i = 0
        func endText() {
            if !text.isEmpty { keys.append(.text(String(decoding: text, as: UTF8.self))) }
            text = []
        }
        loop: while i < pending.count {
            let b = pending[i]
            switch b {
            case 0x1B:
                guard let (key, length) = Self.escape(pending[i...], final: final) else { break loop }
                endText()
                if let key { keys.append(key) }
                i += length
            case 0x0D, 0x0A: endText(); keys.append(.enter); i += 1
            case 0x09: endText(); keys.append(.tab); i += 1
            case 0x7F, 0x08: endText(); keys.append(.backspace); i += 1
            case 0x01...0x1A: endText(); keys.append(.ctrl(Character(UnicodeScalar(b + 0x60)))); i += 1
            case 0x00, 0x1C...0x1F: i += 1  // Ctrl-Space, Ctrl-\ ...: ignored
            case 0x20...0x7E: text.append(b); i += 1
            default:
                let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                if i + length > pending.count && !final { break loop }
                text += pending[i..<min(i + length, pending.count)]
                i += length
            }
        }
        endText()
        pending.removeFirst(min(i, pending.count))
        return keys
    }

    /// The key an escape sequence at the start of `s` stands for (nil for one not understood)
    /// and its length; nil when more bytes are needed.
    private static func escape(_ s: ArraySlice<UInt8>, final: Bool) -> (Key?, Int)? {
        let b = Array(s)
        guard b.count > 1 else { return final ? (.escape, 1) : nil }
        switch b[1] {
        case UInt8(ascii: "["), UInt8(ascii: "O"):
            // CSI / SS3: parameters (digits and ;), then one final byte in 0x40...0x7E.
            var j = 2
            while j < b.count, (0x30...0x3F).contains(b[j]) { j += 1 }
            guard j < b.count else { return final ? (.escape, 1) : nil }
            let params = String(decoding: b[2..<j], as: UTF8.self)
            let first = params.split(separator: ";").first.map(String.init) ?? ""
            let key: Key?
            switch b[j] {
            case UInt8(ascii: "A"): key = .up
            case UInt8(ascii: "B"): key = .down
            case UInt8(ascii: "C"): key = .right
            case UInt8(ascii: "D"): key = .left
            case UInt8(ascii: "H"): key = .home
            case UInt8(ascii: "F"): key = .end
            case UInt8(ascii: "Z"): key = .backTab
            case UInt8(ascii: "~"):
                switch first {
                case "1", "7": key = .home
                case "4", "8": key = .end
                case "3": key = .delete
                case "5": key = .pageUp
                case "6": key = .pageDown
                default: key = nil
                }
            default: key = nil
            }
            return (key, j + 1)
        case 0x1B:
            return (.escape, 1)
        case 0x20...0x7E:
            return (.alt(Character(UnicodeScalar(b[1]))), 2)
        default:
            return (.escape, 1)
        }
    }
}

/// Text measured and cleaned for a terminal.
enum TerminalText {
    /// Columns a character takes: 0 for combining marks, 2 for wide (CJK, emoji), else 1.
    static func width(_ c: Character) -> Int {
        guard let first = c.unicodeScalars.first else { return 0 }
        let v = first.value
        if v < 0x300 { return 1 }
        let p = first.properties
        if p.generalCategory == .nonspacingMark || p.generalCategory == .enclosingMark || v == 0x200B { return 0 }
        if c.unicodeScalars.contains(where: { $0.value == 0xFE0F }) || p.isEmojiPresentation { return 2 }
        switch v {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    static func width(_ s: String) -> Int { s.reduce(0) { $0 + width($1) } }

    /// `s` without what could drive the terminal: control characters (Esc, C1 codes) become
    /// `�`-like visible marks, tabs spaces, and bidirectional overrides are dropped. Text from
    /// peers always goes through this before it is drawn.
    static func safe(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u.value {
            case 0x09: out.append(contentsOf: "    ".unicodeScalars)
            case 0x00...0x1F, 0x7F...0x9F: out.append("\u{FFFD}")
            case 0x202A...0x202E, 0x2066...0x2069: break
            default: out.append(u)
            }
        }
        return String(out)
    }

    /// The longest prefix of `s` that fits in `columns`.
    static func prefix(_ s: String, columns: Int) -> String {
        var used = 0
        var out = ""
        for c in s {
            let w = width(c)
            if used + w > columns { break }
            used += w
            out.append(c)
        }
        return out
    }

    /// `s` cut into lines of at most `columns` (at spaces when it can), at least one line.
    static func wrap(_ s: String, columns: Int) -> [String] {
        guard columns > 0 else { return [s] }
        var lines: [String] = []
        for paragraph in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(paragraph)
            repeat {
                var head = prefix(String(rest), columns: columns)
                if head.isEmpty { head = String(rest.prefix(1)) }  // a wide character in a 1-column space
                if head.count == rest.count {
                    lines.append(head)
                    break
                }
                var cut = head.endIndex
                if let space = head.lastIndex(of: " "), space > head.startIndex { cut = space }
                let line = String(head[..<cut])
                lines.append(line)
                rest = rest.dropFirst(line.count)
                if rest.first == " " { rest = rest.dropFirst() }
            } while !rest.isEmpty
        }
        return lines.isEmpty ? [""] : lines
    }
}

/// How a run of text looks; `render(styled: true)` turns it into SGR attributes.
enum Tone: Equatable, Sendable {
    case plain, bold, dim, reverse, good, warn, alert, accent

    var sgr: String {
        switch self {
        case .plain: ""
        case .bold: "1"
        case .dim: "2"
        case .reverse: "7"
        case .good: "32"
        case .warn: "33"
        case .alert: "1;31"
        case .accent: "36"
        }
    }
}

/// Text with one look.
struct Run: Equatable {
    var text: String
    var tone: Tone = .plain
    init(_ text: String, _ tone: Tone = .plain) {
        self.text = text
        self.tone = tone
    }
}

/// One screen row: runs, and a look for the whole row (the selection, the status bar).
struct ScreenRow: Equatable {
    var runs: [Run]
    var fill: Tone = .plain
    init(_ runs: [Run], fill: Tone = .plain) {
        self.runs = runs
        self.fill = fill
    }

    /// Exactly `width` columns: cut, or padded with spaces. Text goes through
    /// `TerminalText.safe`, so nothing a peer wrote reaches the terminal as a control sequence.
    func composed(width: Int, styled: Bool) -> String {
        var out = ""
        var used = 0
        func paint(_ text: String, _ tone: Tone) -> String {
            let codes = [fill.sgr, tone.sgr].filter { !$0.isEmpty }.joined(separator: ";")
            return !styled || codes.isEmpty || text.isEmpty ? text : "\u{1B}[\(codes)m\(text)\u{1B}[0m"
        }
        for r in runs where used < width {
            let t = TerminalText.prefix(TerminalText.safe(r.text), columns: width - used)
            used += TerminalText.width(t)
            out += paint(t, r.tone)
        }
        if used < width { out += paint(String(repeating: " ", count: width - used), .plain) }
        return out
    }
}

// What the signal handlers need, set up before they are installed (they may not allocate).
nonisolated(unsafe) private var savedMode = termios()
nonisolated(unsafe) private var rawModeOn = false
nonisolated(unsafe) private var wakeWriteFD: Int32 = -1
nonisolated(unsafe) private var leaveScreenBytes: [UInt8] = Array("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l".utf8)

/// Puts the terminal back (async-signal-safe: tcsetattr and write only).
private func restoreTerminalNow() {
    guard rawModeOn else { return }
    rawModeOn = false
    _ = leaveScreenBytes.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count) }
    _ = tcsetattr(0, TCSAFLUSH, &savedMode)
}

/// The controlling terminal in raw mode on the alternate screen, with a wake-up pipe that the
/// main loop polls next to standard input: SIGWINCH and other threads (`wake()`) write a byte
/// to it. `restore()` (also run on SIGINT, SIGTERM, SIGHUP and crashes) puts everything back.
final class Terminal {
    /// Read end of the wake-up pipe (non-blocking).
    let wakeFD: Int32
    /// The lines on screen now, to redraw only those that changed.
    private var shown: [String] = []
    private var shownSize = (width: 0, height: 0)

    struct NotATerminal: Error, CustomStringConvertible {
        var description: String { "hearsay chat needs a terminal (standard input and output are not one)" }
    }

    init() throws(NotATerminal) {
        guard isatty(0) != 0, isatty(1) != 0, tcgetattr(0, &savedMode) == 0 else { throw NotATerminal() }
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeFD = fds[0]
        wakeWriteFD = fds[1]

        var raw = savedMode
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_oflag &= ~tcflag_t(OPOST)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        _ = tcsetattr(0, TCSAFLUSH, &raw)
        rawModeOn = true
        Self.emit("\u{1B}[?1049h\u{1B}[H\u{1B}[2J")

        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE] {
            signal(sig) { sig in
                restoreTerminalNow()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
        signal(SIGPIPE, SIG_IGN)  // a node gone mid-request is an error to show, not a reason to die
        signal(SIGWINCH) { _ in
            var b: UInt8 = 0x77
            _ = write(wakeWriteFD, &b, 1)
        }
    }

    /// Wakes the main loop's `poll` (callable from any thread).
    static func wake(_ fd: Int32) {
        var b: UInt8 = 0x65
        _ = write(fd, &b, 1)
    }

    /// The write end of the wake-up pipe, for other threads.
    var wakeWriter: Int32 { wakeWriteFD }

    /// Empties the wake-up pipe.
    func drainWake() {
        var buf = [UInt8](repeating: 0, count: 256)
        while buf.withUnsafeMutableBytes({ read(wakeFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Columns and rows (80×24 when the terminal does not say).
    func size() -> (width: Int, height: Int) {
        var ws = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 else { return (80, 24) }
        return (Int(ws.ws_col), Int(ws.ws_row))
    }

    /// Draws `lines` (one per row, already fitted to the width) and puts the cursor at
    /// `cursor` (0-based row and column); only rows that changed are written.
    func draw(_ lines: [String], cursor: (row: Int, column: Int), size: (width: Int, height: Int)) {
        var out = "\u{1B}[?25l"
        if size != shownSize {
            out += "\u{1B}[0m\u{1B}[2J"
            shown = []
            shownSize = size
        }
        for (i, line) in lines.enumerated() where i >= shown.count || shown[i] != line {
            out += "\u{1B}[\(i + 1);1H\u{1B}[0m\u{1B}[K" + line + "\u{1B}[0m"
        }
        shown = lines
        out += "\u{1B}[\(cursor.row + 1);\(cursor.column + 1)H\u{1B}[?25h"
        Self.emit(out)
    }

    /// Forgets what is on screen (Ctrl-L): the next `draw` writes every row.
    func invalidate() { shownSize = (0, 0) }

    /// Leaves the alternate screen and raw mode.
    func restore() {
        restoreTerminalNow()
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH] { signal(sig, SIG_DFL) }
    }

    private static func emit(_ s: String) {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
