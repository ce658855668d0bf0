import Foundation
import HearsayModel
import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Link-local XMPP users (issue 6) seen by Hearsay nodes through mDNS, in the lab: a record
/// published like finch publishes its own (`avahi-publish` on a host with no node) becomes one
/// foreign entry in every node's table, owned by one observing node, taken over when that node
/// dies, and retracted when the record goes.
@Suite(.blockingLane, .enabled(if: Lab.unavailable == nil, "\(Lab.unavailable ?? "")"))
struct LabLinkLocalTests {
    static func carol(_ rows: [TableRow]) -> [TableRow] {
        rows.filter { $0.realm == "xmpp-ll" && $0.handle == "Carol Jones" }
    }

    @Test("a finch-style _presence._tcp record becomes one foreign entry everywhere; taken over; retracted")
    func observed() throws {
        let lab = Lab("lx")
        defer { lab.down() }
        try lab.up(3)
        #expect(try lab.startNodes(["h1", "h2"]))
        let h3 = try lab.ip("h3")
        // What finch 2.14.12 publishes (issue 6), from a host without a Hearsay node.
        let publisher = try spawn([Lab.script, "exec", "h3", "avahi-publish", "-s", "carol@h3", "_presence._tcp", "5298",
                                   "txtvers=1", "1st=Carol", "last=Jones", "port.p2pj=5298", "status=avail",
                                   "node=libpurple", "ver=2.14.12", "vc=!"],
                                  environment: ["LAB": lab.name], stderr: lab.data("publisher") + ".log")
        var publishing = true
        defer { if publishing { kill(publisher, SIGKILL); waitExit(publisher) } }

        let ids = ["h1", "h2"].map { try? IdentityStore.loadOrCreate(in: lab.data($0)).0.id }
        let (first, second) = ids[0]! < ids[1]! ? ("h1", "h2") : ("h2", "h1")
        let firstID = min(ids[0]!, ids[1]!), secondID = max(ids[0]!, ids[1]!)
        // One live entry, by the node with the lower id, with carol's address and stream port (the
        // other node may have published first and retracted: its tombstone is left).
        #expect(lab.eventually(10, ["h1", "h2"]) { rows in
            let c = Self.carol(rows).filter { $0.state == "alive" }
            return c.count == 1 && c[0].state == "alive" && c[0].origin == firstID.base32 && c[0].addresses == [h3]
                && c[0].chat_port == 5298 && c[0].protocol == "xmpp/1" && c[0].status == "available"
        }, "\(lab.table("h1").map(Self.carol) ?? [])")
        usleep(6_000_000)  // the other node's reconciliation has run: still one entry
        #expect(Self.carol(lab.table(second) ?? []).filter { $0.state == "alive" }.count == 1)

        // Its owner dies: the other node takes over within SWIM's detection and a reconciliation.
        lab.kill9(first)
        #expect(lab.eventually(20, [second]) { rows in
            Self.carol(rows).contains { $0.origin == secondID.base32 && $0.state == "alive" }
        }, "\(lab.table(second).map(Self.carol) ?? [])")

        // The record goes: the entry is retracted.
        kill(publisher, SIGKILL)
        waitExit(publisher)
        publishing = false
        #expect(lab.eventually(15, [second]) { rows in
            Self.carol(rows).contains { $0.origin == secondID.base32 && $0.state == "left" }
        }, "\(lab.table(second).map(Self.carol) ?? [])")
        #expect(lab.log(second).contains("link-local XMPP user gone"))
    }

    @Test("a real finch on the LAN is in the table of a Hearsay node on another host",
          .enabled(if: Finch.available, "finch is not installed (make test installs it)"))
    func finchIsSeen() throws {
        let lab = Lab("lf")
        defer { lab.down() }
        try lab.up(2)
        let finch = try Finch(lab: lab, host: "h2", user: "carol", first: "Carol", last: "Jones")
        defer { finch.stop() }
        try lab.startNode("h1", on: "h1", extra: ["--handle", "ann"])
        let h2 = try lab.ip("h2")
        #expect(lab.eventually(10, ["h1"]) { rows in
            Self.carol(rows).contains { $0.state == "alive" && $0.addresses == [h2] && $0.chat_port == 5298 && $0.status == "available" }
        }, "\(lab.table("h1") ?? [])")
        #expect(lab.log("h1").contains("instance=carol@"))
        #expect(finch.running, "finch's screen: \(finch.screen())")
    }

    @Test("a real finch and a Hearsay user chat both ways; <, & and non-ASCII survive; finch keeps running",
          .enabled(if: Finch.available, "finch is not installed (make test installs it)"))
    func finchChatsBothWays() throws {
        let lab = Lab("lc")
        defer { lab.down() }
        try lab.up(2)
        let finch = try Finch(lab: lab, host: "h2", user: "carol", first: "Carol", last: "Jones")
        defer { finch.stop() }
        try lab.startNode("h1", on: "h1", extra: ["--handle", "ann"])
        // finch lists the Hearsay user (its _presence._tcp record) in its buddy list.
        // 20 s: a fresh-clone run, with every suite building and running at once, took more than 10.
        #expect(finch.eventually(20) { $0.contains("ann") }, "finch's screen: \(finch.screen())")
        // The record follows the user's status.
        #expect(try runToEnd([try hearsayExecutable(), "status", "--data", lab.data("h1"), "away", "at", "lunch"]).status == 0)
        #expect(Self.until(5) {
            ((try? lab.browse("h2", "_presence._tcp")) ?? []).contains { r in
                r.count > 9 && unescapeBrowseName(r[3]).hasPrefix("ann@") && r[9].contains("\"status=away\"")
                    && r[9].contains("\"msg=at lunch\"") && r[9].contains("\"node=hearsay\"")
            }
        }, "\((try? lab.browse("h2", "_presence._tcp")) ?? [])")
        #expect(lab.eventually(10, ["h1"]) { rows in Self.carol(rows).contains { $0.state == "alive" } })

        // Hearsay → finch: delivered (written to finch's stream), shown on finch's screen and in its log.
        let out = "hello a<b & c — ünï 🎉"
        let sent = try runToEnd([try hearsayExecutable(), "send", "--data", lab.data("h1"), "Carol Jones", out])
        #expect(sent.status == 0, "\(sent.err)")
        func history() -> [MessageRow] {
            (try? ControlClient(path: lab.data("h1") + "/control.sock").request(
                ControlRequest(op: "history", peer: "Carol Jones")))?.messages ?? []
        }
        #expect(Self.until(5) { history().first?.state == "delivered" }, "\(history())")
        #expect(history().first?.secure == false)
        #expect(history().first?.realm == "xmpp-ll")
        #expect(finch.eventually(5) { $0.contains("a<b & c — ünï 🎉") }, "finch's screen: \(finch.screen())")
        let logs = Self.finchLogs(finch)
        #expect(logs.contains { $0.contains("hello a&lt;b &amp; c — ünï 🎉") }, "finch's log: \(logs)")

        // finch → Hearsay: focus the conversation window (Alt-n), type, Enter.
        finch.keys("Escape")
        finch.keys("M-n")
        usleep(300_000)
        finch.keys("hi ann <&> ü 🙂", "Enter")
        #expect(Self.until(5) { history().contains { $0.direction == "in" && $0.text == "hi ann <&> ü 🙂" } }, "\(history())")
        #expect(history().last?.from_handle == "Carol Jones")
        #expect(finch.running, "finch's screen: \(finch.screen())")

        // finch quits: a message to carol waits in the outbox, and goes when she is back.
        finch.stop()
        #expect(lab.eventually(10, ["h1"]) { rows in !Self.carol(rows).contains { $0.state == "alive" } })
        let later = "while you were away"
        #expect(try runToEnd([try hearsayExecutable(), "send", "--data", lab.data("h1"), "Carol Jones", later]).status == 0)
        usleep(1_000_000)
        #expect(history().last?.state == "queued")
        let again = try Finch(lab: lab, host: "h2", user: "carol", first: "Carol", last: "Jones")
        defer { again.stop() }
        #expect(Self.until(15) { history().last?.state == "delivered" }, "\(history())")
        #expect(Self.until(5) { Self.finchLogs(again).contains { $0.contains(later) } }, "\(Self.finchLogs(again))")
        #expect(again.running)
    }

    /// finch's conversation logs (libpurple writes one HTML file per conversation).
    static func finchLogs(_ f: Finch) -> [String] {
        let dir = f.home + "/.purple/logs"
        return ((try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".html") }
            .compactMap { try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }
    }

    static func until(_ seconds: Double, _ condition: () -> Bool) -> Bool { poll(seconds, condition) }

    @Test("across sites: a Hearsay user who cannot reach finch directly chats with it through the observing node",
          .enabled(if: Finch.available, "finch is not installed (make test installs it)"))
    func relayAcrossSites() throws {
        let lab = Lab("lr")
        defer { lab.down() }
        try lab.lab(["sites", "2", "1", "0ms", "0%"])
        try lab.startNode("a1", on: "a1", extra: ["--handle", "ann"])
        let finch = try Finch(lab: lab, host: "a2", user: "carol", first: "Carol", last: "Jones")
        defer { finch.stop() }
        // Site B cannot reach finch's host at all: a2 drops everything from b1.
        try lab.lab(["exec", "a2", "nft", "add table inet fw; add chain inet fw in { type filter hook input priority 0 ; }; "
                     + "add rule inet fw in ip saddr \(try lab.ip("b1")) drop"])
        try lab.startNode("b1", on: "b1", extra: ["--handle", "dave", "--join", "\(try lab.ip("a1")):7946"])
        #expect(lab.eventually(15, ["b1"]) { rows in Self.carol(rows).contains { $0.state == "alive" } }, "\(lab.table("b1") ?? [])")
        func history() -> [MessageRow] {
            (try? ControlClient(path: lab.data("b1") + "/control.sock").request(
                ControlRequest(op: "history", peer: "Carol Jones")))?.messages ?? []
        }
        // dave's node tries finch directly (no answer: 5 s connect timeout), then relays through
        // ann's node, which stands in for dave on site A.
        let text = "hello from site B <&> ü"
        #expect(try runToEnd([try hearsayExecutable(), "send", "--data", lab.data("b1"), "Carol Jones", text]).status == 0)
        #expect(Self.until(20) { history().first?.state == "delivered" }, "\(history()) \(lab.log("b1").suffix(2_000))")
        #expect(Self.until(5) { Self.finchLogs(finch).contains { $0.contains("hello from site B &lt;&amp;&gt; ü") } },
                "\(Self.finchLogs(finch)) \(lab.log("a1").suffix(2_000))")
        #expect(lab.log("b1").contains("relaying through its observer"))
        #expect(lab.log("a1").contains("standing in on this LAN"))
        #expect(finch.screen().contains("dave"), "finch's screen: \(finch.screen())")

        // finch answers in that conversation: the reply reaches dave's node through ann's.
        finch.keys("Escape")
        finch.keys("M-n")
        usleep(300_000)
        finch.keys("hi dave, from site A", "Enter")
        #expect(Self.until(10) { history().contains { $0.direction == "in" && $0.text == "hi dave, from site A" } },
                "\(history()) finch: \(finch.screen())")
        #expect(finch.running)
    }
}
