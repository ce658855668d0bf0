import HearsayNode
import Realms

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
