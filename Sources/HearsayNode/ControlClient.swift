#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Talks to a running node's control socket (blocking; for the CLI).
public struct ControlClient {
    public let path: String

    public init(path: String) { self.path = path }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    func connectSocket() throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw Failure(description: "control socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "no node is running with control socket \(path) (\(why)): start one with `hearsay node`, or pass --data / --control")
        }
        return fd
    }

    /// Sends one request and returns its response; a node that does not answer within
    /// `timeoutSeconds` is an error (not a hang).
    public func request(_ r: ControlRequest, timeoutSeconds: Int = 30) throws(Failure) -> ControlResponse {
        let fd = try connectSocket()
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = ControlJSON.encode(r)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65_536)
        while !data.contains(UInt8(ascii: "\n")) {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buf[0..<n]
        }
        guard let nl = data.firstIndex(of: UInt8(ascii: "\n")),
            let resp = try? JSONDecoder().decode(ControlResponse.self, from: Data(data[..<nl]))
        else { throw Failure(description: "the node closed the control connection without an answer (or gave none within \(timeoutSeconds) s)") }
        return resp
    }

    /// Sends `events` and calls `event` for every chat event (and table change) until the node
    /// goes away or `event` returns false. Blocking: run it on a thread of its own.
    public func events(_ event: (ChatEventLine) -> Bool) throws(Failure) {
        try stream("events") { line throws(Failure) in
            if let e = try? JSONDecoder().decode(ChatEventLine.self, from: Data(line)) { return event(e) }
            if let r = try? JSONDecoder().decode(ControlResponse.self, from: Data(line)), !r.ok {
                throw Failure(description: r.error ?? "the node refused the event stream")
            }
            return true
        }
    }

    /// Sends `watch` and calls `line` for every change until the node goes away.
    public func watch(_ line: (TableRow) -> Void) throws(Failure) {
        try stream("watch") { bytes in
            if let row = try? JSONDecoder().decode(TableRow.self, from: Data(bytes)) { line(row) }
            return true
        }
    }

    /// Sends the streaming request `op`, then hands each line to `line` until the node closes the
    /// connection or `line` returns false.
    func stream(_ op: String, _ line: ([UInt8]) throws(Failure) -> Bool) throws(Failure) {
        let fd = try connectSocket()
        defer { close(fd) }
        let req = ControlJSON.encode(ControlRequest(op: op))
        _ = req.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var pending = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                guard try line(bytes) else { return }
            }
        }
    }
}
