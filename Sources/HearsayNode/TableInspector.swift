#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Gossip
import HearsayModel

/// Fetches a node's whole table over its gossip port, read-only (`SyncRequest.Kind.inspect`):
/// what `hearsay table --diff` compares. Blocking; for the CLI.
public enum TableInspector {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func fetch(_ address: PeerAddress, timeout seconds: Int = 5) throws(Failure) -> [SyncRecord] {
        guard address.host.isIPv4 else { throw Failure(description: "--diff takes an IPv4 HOST:PORT for now") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // On Linux SO_SNDTIMEO bounds connect() too: a peer whose firewall drops SYNs costs
        // `seconds`, not the kernel's two minutes of retries.
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(address.port.bigEndian)
        let b = address.host.bytes
        sa.sin_addr.s_addr = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        let ok = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            let why = errno == EINPROGRESS ? "no answer in \(seconds) s" : String(cString: strerror(errno))
            throw Failure(description: "cannot reach \(address) over TCP (\(why)): is a node listening there?")
        }
        let request = GossipCodec.encode(.syncRequest(SyncRequest(kind: .inspect, from: .none, root: 0, count: 0, records: [])))
        var frame = withUnsafeBytes(of: UInt32(request.count).bigEndian, Array.init) + request
        _ = frame.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        func readExactly(_ n: Int) throws(Failure) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, n - got) }
                if r <= 0 { throw Failure(description: "\(address) closed the connection or did not answer in \(seconds) s") }
                got += r
            }
            return out
        }
        let header = try readExactly(4)
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length <= GossipCodec.maxStreamMessage else { throw Failure(description: "\(address) sent a frame of \(length) bytes") }
        do {
            guard case .syncRecords(let records, _) = try GossipCodec.decodeStream(try readExactly(length)) else {
                throw Failure(description: "\(address) answered with something other than its table")
            }
            return records
        } catch let e as WireError {
            throw Failure(description: "\(address) sent an undecodable answer: \(e)")
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// One entry that differs between two tables.
    public struct Difference: Sendable, Equatable {
        public enum Side: String, Sendable { case local, remote }
        public var id: NodeID
        public var handle: String
        /// nil: the same precedence, other content (should not happen: precedences are unique per owner).
        public var newer: Side?
        public var local: String?
        public var remote: String?
    }

    static func describe(_ r: SyncRecord) -> String {
        switch r.state {
        case .alive, .left: "\(r.state) v\(r.entry.version)"
        case .suspect, .dead: "\(r.state)@\(r.claimIncarnation) (entry v\(r.entry.version))"
        }
    }

    static func precedence(_ r: SyncRecord) -> Precedence {
        switch r.state {
        case .alive, .left: .entry(r.entry.version)
        case .suspect: .suspect(r.claimIncarnation)
        case .dead: .dead(r.claimIncarnation)
        }
    }

    /// Which entries differ, and which side holds the newer one (by SWIM precedence).
    public static func diff(local: [SyncRecord], remote: [SyncRecord]) -> [Difference] {
        var l = [NodeID: SyncRecord]()
        for r in local { l[r.entry.id] = r }
        var rm = [NodeID: SyncRecord]()
        for r in remote { rm[r.entry.id] = r }
        var out = [Difference]()
        for id in Set(l.keys).union(rm.keys).sorted() {
            let a = l[id], b = rm[id]
            let handle = (a ?? b)!.entry.entry.handle
            switch (a, b) {
            case (let a?, let b?):
                let pa = precedence(a), pb = precedence(b)
                if pa == pb && a.entry == b.entry { continue }
                out.append(Difference(id: id, handle: handle, newer: pa == pb ? nil : (pa > pb ? .local : .remote),
                                      local: describe(a), remote: describe(b)))
            case (let a?, nil):
                out.append(Difference(id: id, handle: handle, newer: .local, local: describe(a), remote: nil))
            case (nil, let b?):
                out.append(Difference(id: id, handle: handle, newer: .remote, local: nil, remote: describe(b)))
            default:
                break
            }
        }
        return out
    }
}
