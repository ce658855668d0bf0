import Foundation
import Gossip
import HearsayModel
import HearsayNode
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11 from outside: real `hearsay node` processes on 127.0.0.x (mDNS off) and hand-made
/// datagrams from a socket of the test's own, as a host on the LAN or a member with a self-made
/// identity would send them. Each test has a positive control showing it would see the attack
/// work. Docs/security.md.
@Suite(.serialized, .blockingLane) struct AdversarialGossipTests {
    /// A UDP socket on 127.0.0.9 (a host that runs no node), with a receive timeout.
    final class Attacker {
        let fd: Int32
        init() {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.9")
            _ = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var tv = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }

        func send(_ bytes: [UInt8], to address: String) {
            let parts = address.split(separator: ":")
            var to = sockaddr_in()
            to.sin_family = sa_family_t(AF_INET)
            to.sin_port = in_port_t(UInt16(parts[1])!.bigEndian)
            to.sin_addr.s_addr = inet_addr(String(parts[0]))
            _ = bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }

        /// Every datagram that arrives within `seconds` (at most 10,000).
        func receive(for seconds: Double) -> [[UInt8]] {
            var out = [[UInt8]]()
            let end = Date().addingTimeInterval(seconds)
            var buf = [UInt8](repeating: 0, count: 65_536)
            while Date() < end && out.count < 10_000 {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { out.append(Array(buf[0..<n])) }
            }
            return out
        }
    }

    /// Three nodes, 1 and 2 joining 0, all listing all alive.
    static func threeNodes() throws -> Cluster {
        let c = Cluster()
        do {
            for i in 0..<3 { try c.start(i, join: i == 0 ? nil : 0) }
        } catch {
            c.stopAll()
            throw error
        }
        #expect(c.eventually(15) { $0.filter { $0.state == "alive" }.count == 3 })
        return c
    }

    static func stats(_ c: Cluster, _ i: Int) -> ControlResponse? {
        try? ControlClient(path: c.data(i) + "/control.sock").request(ControlRequest(op: "stats"))
    }

    static func identity(_ c: Cluster, _ i: Int) throws -> NodeIdentity {
        try IdentityStore.loadOrCreate(in: c.data(i)).0
    }

    /// A datagram as member `from` sends it to member `to`.
    static func sealed(_ m: GossipMessage, from: NodeIdentity, to: NodeIdentity) -> [UInt8] {
        let key = from.pairKey(with: to.id, agreementKey: to.agreementPublicKey)!
        return GossipCodec.encodeDatagram(m, sender: from.id, tag: key.tag)
    }

    @Test("a host that is not a member changes nothing: forged claims, spoofed ids, ping-reqs, ihaves")
    func nonMember() throws {
        let c = try Self.threeNodes()
        defer { c.stopAll() }
        let ids = try (0..<3).map { try Self.identity(c, $0) }
        let victim = ids[2]
        let attacker = Attacker()
        var rng = SeededRandom(seed: 11)
        let stranger = NodeIdentity.deterministic(using: &rng)
        let garbage = [UInt8](repeating: 0x5a, count: 16)
        // Version 1's 47-byte dead claim at an incarnation near 2^64.
        var old = ByteWriter()
        old.u8(1); old.u8(5); old.u8(1); old.u8(2); old.u8(0); old.id(victim.id); old.varint(.max - 5); old.id(stranger.id)
        let dead = Claim.make(.dead, subject: victim.id, incarnation: 1 << 40, by: stranger)
        let messages: [[UInt8]] = [
            old.bytes,
            // Signed by a self-made identity nobody knows, tagged with garbage.
            GossipCodec.encodeDatagram(.push(updates: [Update(.claim(dead))]), sender: stranger.id, tag: { _ in garbage }),
            // In the name of member 1 (its id), without its key.
            GossipCodec.encodeDatagram(.push(updates: [Update(.claim(dead))]), sender: ids[1].id, tag: { _ in garbage }),
            GossipCodec.encodeDatagram(.pingReq(seq: 1, from: ids[1].id, target: victim.id,
                                                address: PeerAddress("127.0.0.9:9")!, updates: []),
                                       sender: ids[1].id, tag: { _ in garbage }),
            GossipCodec.encodeDatagram(.ihave(digests: (0..<60).map { _ in
                Digest(id: NodeID(hi: rng.next(), lo: rng.next()), precedence: .entry(EntryVersion(incarnation: 1, sequence: 0)))
            }), sender: ids[1].id, tag: { _ in garbage }),
        ]
        var sent = 0
        for _ in 0..<20 {
            for m in messages { for i in 0..<2 { attacker.send(m, to: c.address(i)); sent += m.count } }
            usleep(50_000)
        }
        // Nothing comes back, and nobody ever lists the victim as anything but alive.
        let replies = attacker.receive(for: 1)
        #expect(replies.isEmpty, "\(replies.count) datagrams reflected for \(sent) bytes sent")
        for _ in 0..<15 {
            #expect((0..<2).allSatisfy { c.table($0)?.first { $0.id == victim.id.base32 }?.state == "alive" })
            usleep(200_000)
        }
        // Node 0 saw tags that do not verify (in member 1's name), both saw unknown senders (node 1
        // its own id) and version 1.
        let dropped = (0..<2).compactMap { Self.stats(c, $0)?.wire?.dropped }
        #expect(dropped.count == 2)
        #expect((dropped.first?["bad-tag"] ?? 0) >= 1, "\(dropped)")
        #expect(dropped.allSatisfy { ($0["unknown-sender"] ?? 0) >= 1 && ($0["bad-version"] ?? 0) >= 1 }, "\(dropped)")

        // Positive control: a real crash is seen by both.
        c.kill9(2)
        #expect(c.eventually(30, nodes: [0, 1]) { $0.first { $0.id == victim.id.base32 }?.state == "dead" })
    }

    @Test("acks in the name of a crashed node do not hide its crash")
    func spoofedAcks() throws {
        let c = try Self.threeNodes()
        defer { c.stopAll() }
        let victim = try Self.identity(c, 2)
        let before = (0..<2).map { Self.stats(c, $0)?.wire?.dropped["bad-tag"] ?? 0 }
        c.kill9(2)
        let attacker = Attacker()
        var rng = SeededRandom(seed: 12)
        let start = Date()
        var dead = false
        // Every 5 ms, to each survivor, acks for 20 random sequence numbers "from" the victim.
        while !dead && Date().timeIntervalSince(start) < 30 {
            for _ in 0..<20 {
                let ack = GossipCodec.encodeDatagram(.ack(seq: UInt32(truncatingIfNeeded: rng.next()), from: victim.id, updates: []),
                                                     sender: victim.id, tag: { _ in [UInt8](repeating: 1, count: 16) })
                for i in 0..<2 { attacker.send(ack, to: c.address(i)) }
            }
            usleep(5_000)
            if Int(Date().timeIntervalSince(start) * 10) % 5 == 0 {
                dead = (0..<2).allSatisfy { c.table($0)?.first { $0.id == victim.id.base32 }?.state == "dead" }
            }
        }
        #expect(dead, "the crash stayed hidden for 30 s")
        // Positive control: the acks did reach the nodes (and were dropped there).
        let after = (0..<2).map { Self.stats(c, $0)?.wire?.dropped["bad-tag"] ?? 0 }
        #expect(zip(before, after).allSatisfy { $1 > $0 + 100 }, "bad-tag \(before) → \(after)")
    }

    @Test("a member cannot bury a node that answers, nor use a node to amplify toward an unproven address")
    func member() throws {
        let c = try Self.threeNodes()
        defer { c.stopAll() }
        // Node 2 is the attacker's self-made member: its key is in its data directory. Stop it
        // so that only the test speaks for it (its row stays: a dead member is still a node).
        let ids = try (0..<3).map { try Self.identity(c, $0) }
        let (n0, n1, m) = (ids[0], ids[1], ids[2])
        c.terminate(2)
        let attacker = Attacker()

        // 1. Its signed dead claim about node 1, at node 1's incarnation: a suspicion at most,
        //    refuted; node 1 is never dead and is alive again within 2 s.
        let row1 = try #require(c.table(0)?.first { $0.id == n1.id.base32 })
        let claim = Claim.make(.dead, subject: n1.id, incarnation: row1.incarnation, by: m)
        attacker.send(Self.sealed(.push(updates: [Update(.claim(claim))]), from: m, to: n0), to: c.address(0))
        var states = [String]()
        for _ in 0..<30 {
            states.append(c.table(0)?.first { $0.id == n1.id.base32 }?.state ?? "?")
            usleep(100_000)
        }
        #expect(!states.contains("dead"), "\(states)")
        #expect(states.suffix(10).allSatisfy { $0 == "alive" }, "\(states)")
        // Positive control: the claim was heard and taken as a suspicion (not dropped on the way).
        #expect((Self.stats(c, 0)?.gossip?.deathsDowngraded ?? 0) >= 1)

        // 2. Amplification from the attacker's address, which never answered a challenge: an
        //    ihave draws at most its size, a graft at most its size. (First drain what answered
        //    the push above: one challenge, smaller than the push.)
        let drained = attacker.receive(for: 0.3)
        #expect(drained.count <= 1 && drained.allSatisfy { $0.count <= 200 }, "\(drained.map(\.count))")
        let row2 = try #require(c.table(0)?.first { $0.id == n1.id.base32 })
        let wanted = Digest(id: n1.id, precedence: .entry(EntryVersion(incarnation: row2.incarnation, sequence: row2.sequence)))
        let ihave = Self.sealed(.ihave(digests: (0..<60).map { k in
            Digest(id: NodeID(hi: 7, lo: UInt64(k)), precedence: .entry(EntryVersion(incarnation: 1, sequence: 0)))
        }), from: m, to: n0)
        let graft = Self.sealed(.graft(digests: [wanted]), from: m, to: n0)
        for (what, request) in [("ihave", ihave), ("graft", graft)] {
            attacker.send(request, to: c.address(0))
            let back = attacker.receive(for: 0.5)
            #expect(back.count <= 1 && back.reduce(0) { $0 + $1.count } <= request.count,
                    "\(what) of \(request.count) bytes drew \(back.map(\.count))")
        }
        // Positive control: answer the challenge, and the same graft now draws the entry, larger
        // than the graft (the cap was what held it back).
        attacker.send(graft, to: c.address(0))
        let challenge = try #require(attacker.receive(for: 0.5).compactMap { try? GossipCodec.decodeDatagram($0).message }
            .first { if case .challenge = $0 { true } else { false } })
        guard case .challenge(let nonce) = challenge else { return }
        attacker.send(Self.sealed(.response(seq: nonce), from: m, to: n0), to: c.address(0))
        usleep(100_000)
        attacker.send(graft, to: c.address(0))
        let answer = attacker.receive(for: 0.5)
        #expect(answer.reduce(0) { $0 + $1.count } > graft.count, "\(answer.map(\.count))")
    }
}
