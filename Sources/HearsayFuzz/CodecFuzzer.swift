import Gossip
import HearsayModel
import NativeWire

/// A mutation fuzzer for the wire codecs (gossip datagrams and streams, native chat messages):
/// starts from valid encodings of every message kind and
/// mutates them (bit flips, truncation, insertion, splicing, inflated lengths). Every input must
/// either be refused with a `WireError` or decode to a message whose encoding decodes again to
/// the same bytes. A crash, a trap or a non-idempotent decode is a finding.
public struct CodecFuzzer {
    public struct Finding: Error, CustomStringConvertible {
        public let input: [UInt8]
        public let description: String
    }

    var rng: SeededRandom
    var corpus: [[UInt8]]
    public private(set) var accepted = 0
    public private(set) var refused: [WireError.Reason: Int] = [:]

    public init(seed: UInt64) {
        rng = SeededRandom(seed: seed)
        corpus = Self.seedCorpus(&rng)
    }

    /// Valid encodings of every message type, with entries, claims, records and digests.
    static func seedCorpus(_ rng: inout SeededRandom) -> [[UInt8]] {
        let a = NodeIdentity.deterministic(using: &rng)
        let b = NodeIdentity.deterministic(using: &rng)
        let e1 = try! SignedEntry.sign(PresenceEntry(
            publicKey: a.publicKey, handle: "alice", addresses: [.ipv4(10, 0, 0, 1), HostAddress("fe80::1")!],
            gossipPort: 7946, chatPort: 7947, status: .busy, statusText: "héllo <&>",
            capabilities: [.chat, .typing], version: EntryVersion(incarnation: 300, sequence: 70_000)), with: a)
        let e2 = try! SignedEntry.sign(PresenceEntry(
            publicKey: b.publicKey, foreignName: "carol@laptop", handle: "Carol", realm: "xmpp-ll",
            protocolName: "xmpp", addresses: [.ipv4(10, 0, 0, 2)], gossipPort: 0, chatPort: 5298,
            version: EntryVersion(incarnation: 1, sequence: 2), flags: [.retracted]), with: b)
        let suspect = Claim.make(.suspect, subject: a.id, incarnation: 300, by: b)
        let ups = [
            Update(.entry(e1), hops: 3), Update(.claim(suspect), hops: 1),
            Update(.claim(Claim.make(.dead, subject: b.id, incarnation: 9, by: a)), hops: 200), Update(.entry(e2)),
        ]
        let digests = [Digest(id: a.id, precedence: .entry(e1.version)), Digest(id: b.id, precedence: .dead(9))]
        let records = [SyncRecord(entry: e1, state: .suspect, claim: suspect), SyncRecord(entry: e2, state: .alive)]
        let messages: [GossipMessage] = [
            .ping(seq: 1, from: a.id, target: b.id, updates: ups),
            .ack(seq: 70_000, from: b.id, updates: [ups[1]]),
            .pingReq(seq: 5, from: a.id, target: b.id, address: PeerAddress("[::1]:7946")!, updates: [ups[0]]),
            .nack(seq: UInt32.max, from: a.id),
            .push(updates: ups),
            .ihave(digests: digests), .graft(digests: digests),
            .syncRequest(SyncRequest(kind: .join, from: a.id, root: 42, count: 2, records: records)),
            .syncBuckets(root: 7, buckets: (0..<256).map { UInt64($0) * 0x0101_0101 }),
            .syncDigest(buckets: [0, 17, 255], digests: digests),
            .syncRecords(records: records, wants: [a.id, b.id]),
            .syncEqual,
        ]
        let mid = MessageID(hi: 1, lo: 2)
        let native: [NativeMessage] = [
            .hello(minVersion: 1, maxVersion: 1, node: a.id), .close(.declined, detail: "no"),
            .sessionRequest(handle: "alice"), .sessionAccept,
            .message(ChatMessage(id: mid, sender: a.id, sentAtMillis: 1_795_590_000_000, text: "a<b & c é")),
            .ack(mid), .read(mid), .typing(true), .ping(1), .pong(2),
            .relay(realm: "xmpp-ll", user: "carol@laptop",
                   message: ChatMessage(id: mid, sender: a.id, sentAtMillis: 1_795_590_000_000, text: "hi <&>")),
            .nack(mid, retryAfterMillis: 1_000, reason: "disk full"),
        ]
        let key = PairKey(testingBytes: Array(repeating: 7, count: 32))
        return messages.map { $0.isStream ? GossipCodec.encode($0) : GossipCodec.encodeDatagram($0, sender: a.id, tag: key.tag) }
            + native.map(NativeCodec.encode)
    }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var x = input
        for _ in 0..<(1 + rng.below(4)) {
            switch rng.below(8) {
            case 0 where !x.isEmpty:
                let i = rng.below(x.count)
                x[i] ^= UInt8(1 << rng.below(8))
            case 1 where !x.isEmpty:
                x[rng.below(x.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2 where !x.isEmpty:
                x.removeLast(rng.below(min(x.count, 64)) + 1)
            case 3:
                x.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(x.count + 1))
            case 4 where x.count > 2:
                let i = rng.below(x.count)
                x.removeSubrange(i..<min(x.count, i + 1 + rng.below(16)))
            case 5:
                // Splice: the head of this input, the tail of another.
                let other = corpus[rng.below(corpus.count)]
                let i = rng.below(x.count + 1)
                let j = rng.below(other.count + 1)
                x = Array(x[..<i]) + Array(other[j...])
            case 6 where !x.isEmpty:
                // An inflated length or count: a long varint in place of a byte.
                let i = rng.below(x.count)
                x.replaceSubrange(i..<i + 1, with: [0xff, 0xff, 0xff, 0xff, 0x0f])
            default:
                x.append(UInt8(truncatingIfNeeded: rng.next()))
            }
        }
        return x
    }

    /// Runs one decode attempt: a `WireError` is a refusal (counted), a `Finding` or any other
    /// error is a finding.
    mutating func attempt(_ input: [UInt8], _ body: (inout CodecFuzzer) throws -> Void) throws(Finding) {
        do {
            try body(&self)
        } catch let e as WireError {
            refused[e.reason, default: 0] += 1
        } catch let f as Finding {
            throw f
        } catch {
            throw Finding(input: input, description: "unexpected error \(error)")
        }
    }

    /// Decodes one input as a datagram and as a stream message; checks the round trip.
    public mutating func check(_ input: [UInt8]) throws(Finding) {
        try attempt(input) { f in
            let d = try GossipCodec.decodeDatagram(input, maxSize: 65_507)
            f.accepted += 1
            let tag = Array(d.tag)
            let again = GossipCodec.encodeDatagram(d.message, sender: d.sender, tag: { _ in tag })
            guard GossipCodec.encodedSize(d.message) == again.count else {
                throw Finding(input: input, description: "encodedSize \(GossipCodec.encodedSize(d.message)) != \(again.count)")
            }
            let d2 = try GossipCodec.decodeDatagram(again, maxSize: 65_507)
            guard GossipCodec.encodeDatagram(d2.message, sender: d2.sender, tag: { _ in tag }) == again else {
                throw Finding(input: input, description: "decode ∘ encode is not stable for \(d.message.name)")
            }
            if f.corpus.count < 512 { f.corpus.append(input) }
        }
        try attempt(input) { f in
            let m = try GossipCodec.decodeStream(input)
            f.accepted += 1
            let again = GossipCodec.encode(m)
            guard GossipCodec.encodedSize(m) == again.count else {
                throw Finding(input: input, description: "encodedSize \(GossipCodec.encodedSize(m)) != \(again.count)")
            }
            guard GossipCodec.encode(try GossipCodec.decodeStream(again)) == again else {
                throw Finding(input: input, description: "decode ∘ encode is not stable for \(m.name)")
            }
            if f.corpus.count < 512 { f.corpus.append(input) }
        }
    }

    /// Decodes one input as a native chat payload; checks the round trip.
    mutating func checkNative(_ input: [UInt8]) throws(Finding) {
        try attempt(input) { f in
            let m = try NativeCodec.decode(input)
            f.accepted += 1
            let again = NativeCodec.encode(m)
            guard try NativeCodec.decode(again) == m, NativeCodec.encode(try NativeCodec.decode(again)) == again else {
                throw Finding(input: input, description: "native decode ∘ encode is not stable for \(m.kind)")
            }
        }
    }

    /// Runs `iterations` mutated inputs.
    public mutating func run(iterations: Int) throws(Finding) {
        for c in corpus {
            try check(c)
            try checkNative(c)
        }
        for _ in 0..<iterations {
            let input = mutate(corpus[rng.below(corpus.count)])
            try check(input)
            try checkNative(input)
        }
    }
}
