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
import HearsayModel

/// The node's identity key on disk: `identity.key` in the data directory, created on first
/// start with mode 0600 (the directory 0700), refused if others can read it (as ssh does).
///
/// Format: one line `hearsay-ed25519-v1 <base32 of the 32-byte private key>`.
public enum IdentityStore {
    public static let fileName = "identity.key"
    static let header = "hearsay-ed25519-v1"

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// `$XDG_DATA_HOME/hearsay`, or `~/.local/share/hearsay`.
    public static func defaultDataDirectory() -> String {
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_DATA_HOME"], !x.isEmpty { return x + "/hearsay" }
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/tmp"
        return home + "/.local/share/hearsay"
    }

    /// Loads the identity in `directory`, creating directory and key on first use.
    /// - Returns: the identity, and whether it was created now.
    public static func loadOrCreate(in directory: String) throws(Failure) -> (NodeIdentity, created: Bool) {
        let path = directory + "/" + fileName
        if FileManager.default.fileExists(atPath: path) { return (try load(path), false) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(description: "cannot create the data directory \(directory): \(error); pass --data DIR")
        }
        let identity = NodeIdentity.generate()
        let text = "\(header) \(Base32.encode(identity.privateKeyBytes))\n"
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count else {
            unlink(tmp)
            throw Failure(description: "cannot write \(tmp): short write")
        }
        // link() fails if another process created the key meanwhile: then use theirs.
        if link(tmp, path) != 0 {
            unlink(tmp)
            return (try load(path), false)
        }
        unlink(tmp)
        return (identity, true)
    }

    static func load(_ path: String) throws(Failure) -> NodeIdentity {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        if st.st_mode & 0o077 != 0 {
            throw Failure(description: "\(path) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8))): run `chmod 600 \(path)`")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(description: "cannot read \(path)")
        }
        let parts = text.split(whereSeparator: { $0 == " " || $0.isNewline || $0 == "\t" })
        guard parts.count == 2, parts[0] == header, let key = Base32.decode(String(parts[1])), key.count == 32,
            let identity = try? NodeIdentity(privateKeyBytes: key)
        else {
            throw Failure(description: "\(path) is not a Hearsay identity key; move it away to create a new identity")
        }
        return identity
    }
}
