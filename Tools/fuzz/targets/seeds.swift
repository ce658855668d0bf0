#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Discovery
import Gossip
@testable import HearsayFuzz
import HearsayModel
import NativeWire
#if canImport(Glibc)
import Glibc
#endif

// Not a fuzz target: `Tools/fuzz/libfuzzer seeds` runs it to write the seed corpus
// (Tools/fuzz/corpus/TARGET/) from the real encoders. It is built like the targets (the same
// instrumented modules), so it does its work in libFuzzer's initialisation hook and exits.

func write(_ dir: String, _ target: String, _ name: String, _ bytes: [UInt8]) {
    let path = "\(dir)/\(target)/\(name)"
    guard let f = fopen(path, "wb") else { fatalError("cannot write \(path)") }
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

func frame(_ p: [UInt8]) -> [UInt8] {
    [UInt8(p.count >> 24 & 0xff), UInt8(p.count >> 16 & 0xff), UInt8(p.count >> 8 & 0xff), UInt8(p.count & 0xff)] + p
}

func rdata(_ strings: [String]) -> [UInt8] { strings.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } }

func writeSeeds(_ dir: String) {
    // The mutation fuzzer's seeds: every gossip message type (datagrams with their trailer,
    // stream messages bare) with entries, claims, records and digests, and every native message.
    var rng = SeededRandom(seed: 1)
    var conversation: [UInt8] = [], natives: [UInt8] = []
    for (i, bytes) in CodecFuzzer.seedCorpus(&rng).enumerated() {
        if let d = try? GossipCodec.decodeDatagram(bytes) {
            write(dir, "gossip-datagram", "\(i)-\(d.message.name)", bytes)
            if case .push(let updates) = d.message {
                for (j, u) in updates.enumerated() {
                    guard case .entry(let e) = u.kind else { continue }
                    var w = ByteWriter(capacity: 512)
                    e.encode(into: &w)
                    write(dir, "entry", "\(j)-\(e.entry.handle)", w.bytes)
                }
            }
        } else if let m = try? GossipCodec.decodeStream(bytes) {
            write(dir, "gossip-frames", "\(i)-\(m.name)", frame(bytes))
            conversation += frame(bytes)
        } else if let m = try? NativeCodec.decode(bytes) {
            write(dir, "native", "\(i)-\(m.kind)", frame(bytes))
            natives += frame(bytes)
        } else {
            fatalError("seed \(i) decodes as nothing")
        }
    }
    // The authenticated-probe messages, which the mutation fuzzer's seeds lack.
    let key = PairKey(testingBytes: Array(repeating: 7, count: 32))
    let me = NodeID(hi: 1, lo: 2)
    for m in [GossipMessage.challenge(seq: 9), .response(seq: 70_000)] {
        write(dir, "gossip-datagram", m.name, GossipCodec.encodeDatagram(m, sender: me, tag: key.tag))
    }
    write(dir, "gossip-frames", "conversation", conversation)
    write(dir, "native", "session", natives)
    for (i, xml) in XMLFuzzer.seedCorpus().enumerated() { write(dir, "xmpp", "\(i)", xml) }

    // TXT: instance name, port, rdata (the layout of Tools/fuzz/targets/txt.swift).
    let id = NodeIdentity.deterministic(using: &rng).id
    let hearsay = HearsayService(id: id, gossipPort: 7946, chatPort: 7947)
    let ann = LinkLocalPresence(instance: "ann@host", port: 5298, first: "Ann", last: "Lee", nick: "annie",
                                status: .away, message: "at lunch", node: "hearsay", ver: "1")
    let records: [(String, String, UInt16, [String])] = [
        ("hearsay", "alice on host", 7946, hearsay.txt.map { "\($0.key)=\($0.value)" }),
        ("presence", ann.instance, ann.port, ann.txt.map { "\($0.key)=\($0.value)" }),
        ("finch", "bob@pc", 5298, ["txtvers=1", "1st=Bob", "last=", "port.p2pj=5298", "status=dnd", "msg=é",
                                   "node=libpurple", "ver=2.14", "vc=!", "jid=bob@example.org", "flag"]),
    ]
    for (name, instance, port, strings) in records {
        write(dir, "txt", name, [UInt8(instance.utf8.count)] + Array(instance.utf8) + [UInt8(port >> 8), UInt8(port & 0xff)]
              + rdata(strings))
    }

    // Control requests as `hearsay` writes them (ControlJSON: sorted keys).
    let requests = [
        ControlRequest(op: "table"), ControlRequest(op: "members"), ControlRequest(op: "watch"),
        ControlRequest(op: "status", status: "away", text: "at lunch"), ControlRequest(op: "stats"),
        ControlRequest(op: "send", peer: "bob", texts: ["hi", "a\nb é"]), ControlRequest(op: "history", peer: "bob", limit: 20),
        ControlRequest(op: "friends", peer: "bob", action: "add"), ControlRequest(op: "answer", peer: "bob", accept: true),
        ControlRequest(op: "typing", peer: "bob", on: false), ControlRequest(op: "events"),
    ]
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for r in requests {
        let name = r.op + (r.peer == nil ? "" : "-" + r.peer!)
        write(dir, "control-json", name, Array(try! encoder.encode(r)))
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func seedsMain(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    guard argc.pointee == 2, let arg = argv.pointee?[1] else {
        print("usage: seeds CORPUS-DIRECTORY")
        exit(2)
    }
    writeSeeds(String(cString: arg))
    exit(0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func seedsUnused(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
