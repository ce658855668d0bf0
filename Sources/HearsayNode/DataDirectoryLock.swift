#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// An exclusive lock on `<data>/lock` for the life of the node: two nodes on one data directory
/// would share an identity and fight over its control socket and state.
final class DataDirectoryLock: @unchecked Sendable {
    let fd: Int32

    init(directory: String) throws {
        let path = directory + "/lock"
        fd = open(path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw NodeError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw NodeError("another hearsay node is running with the data directory \(directory); stop it, or pass another --data")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
