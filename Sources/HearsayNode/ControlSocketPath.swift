#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// Why the control socket's path cannot be used, with what to do about it.
public struct ControlPathError: Error, CustomStringConvertible, Equatable {
    enum Code: Equatable { case notASocket, inUse, cannotCreate, notPrivate }
    let code: Code
    public let description: String

    static func notASocket(_ path: String, _ what: String) -> Self {
        Self(code: .notASocket, description: "\(path) exists and is \(what), not a control socket: it was left as it is; "
             + "give --control a path that does not exist (or remove it yourself)")
    }

    static func inUse(_ path: String) -> Self {
        Self(code: .inUse, description: "a node already answers on the control socket \(path): stop it first, "
             + "or give this one another --control (or --data)")
    }

    static func cannotCreate(_ path: String, _ why: String) -> Self {
        Self(code: .cannotCreate, description: "cannot create the control socket \(path): \(why); check that its "
             + "directory exists and is yours, or give another --control")
    }

    static func notPrivate(_ path: String, _ why: String) -> Self {
        Self(code: .notPrivate, description: "the control socket \(path) would not be private to you (\(why)): "
             + "the node does not serve it; give another --control")
    }
}

/// The control socket's place in the file system. A node only ever removes a *stale* socket
/// there (one nobody answers on); anything else at the path is an error and stays as it is. The
/// socket is bound inside a fresh 0700 directory, made 0600, checked, and only then linked to its
/// path: whatever the umask, nobody else can connect to it at any moment (Docs/operations.md).
enum ControlSocketPath {
    /// What is at `path` now.
    enum Occupant: Equatable { case nothing, staleSocket, liveSocket, other(String) }

    static func occupant(of path: String) -> Occupant {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .nothing }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK: return answers(path) ? .liveSocket : .staleSocket
        case S_IFDIR: return .other("a directory")
        case S_IFREG: return .other("a regular file")
        case S_IFLNK: return .other("a symbolic link")
        default: return .other("a special file")
        }
    }

    /// Whether something accepts a connection on the Unix socket at `path`.
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard var addr = unixAddress(path) else { return false }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }

    static func unixAddress(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return addr
    }

    /// Clears the way for a new socket at `path`: removes a stale socket, refuses anything else.
    static func prepare(_ path: String) throws(ControlPathError) {
        switch occupant(of: path) {
        case .nothing: return
        case .staleSocket:
            guard unlink(path) == 0 || errno == ENOENT else { throw .cannotCreate(path, "cannot remove the stale socket: \(lastError())") }
        case .liveSocket: throw .inUse(path)
        case .other(let what): throw .notASocket(path, what)
        }
    }

    /// A fresh private directory next to `path` (same file system, so the socket can be linked
    /// from it), mode 0700 whatever the umask. Its name is short: `<dir>/.hs-XXXXXX/s` is no longer
    /// than `<dir>/control.sock`, so a path that fits a Unix socket address fits here too.
    static func privateDirectory(beside path: String) throws(ControlPathError) -> String {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        var template = Array((parent == "/" ? "" : parent).utf8CString.dropLast()) + Array("/.hs-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw .cannotCreate(path, "cannot make a directory in \(parent): \(lastError())") }
        let dir = String(cString: made)
        guard chmod(dir, 0o700) == 0 else {
            rmdir(dir)
            throw .cannotCreate(path, "cannot make \(dir) private: \(lastError())")
        }
        return dir
    }

    /// After binding at `temporary` (inside `privateDirectory`): mode 0600, checked, then linked
    /// to `path` (never replacing anything that appeared there meanwhile). Returns the socket's
    /// device and inode, so that the node removes only its own socket at stop.
    static func publish(_ temporary: String, at path: String) throws(ControlPathError) -> (dev: UInt64, ino: UInt64) {
        guard chmod(temporary, 0o600) == 0 else { throw .cannotCreate(path, "cannot chmod the socket: \(lastError())") }
        var st = stat()
        guard lstat(temporary, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK else {
            throw .cannotCreate(path, "the new socket is not there")
        }
        guard st.st_mode & 0o077 == 0, st.st_uid == geteuid() else {
            throw .notPrivate(path, "mode \(String(st.st_mode & 0o777, radix: 8)), owner \(st.st_uid)")
        }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { throw .notASocket(path, "something that appeared while the node started") }
            throw .cannotCreate(path, lastError())
        }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Removes the socket at `path` if it is still the one this node made.
    static func remove(_ path: String, ifStill id: (dev: UInt64, ino: UInt64)) {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK, UInt64(st.st_dev) == id.dev, UInt64(st.st_ino) == id.ino
        else { return }
        unlink(path)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
