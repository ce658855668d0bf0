import Foundation
import HearsayModel
import HearsayNode
import Testing

/// Runs the built `hearsay` executable as a subprocess, as a user would.
func hearsay(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let candidates = [".build/debug/hearsay", ".build/release/hearsay"].map { root.appendingPathComponent($0).path }
    guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates[0]])
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func temporaryDirectory() -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("hearsay-test-\(UUID().uuidString)").path
    return d
}

@Suite(.blockingLane) struct ExecutableTests {
    /// libavahi-client (and D-Bus behind it) is opened at run time, only with mDNS on: a node
    /// with --mdns off maps none of it, and runs where it is not installed (ADR 0007). Full
    /// Foundation came back with the chat store (GRDB imports it): ADR 0008 measures what it costs.
    @Test("the hearsay executable does not link Avahi or D-Bus")
    func noAvahiLinked() throws {
        let exe = try hearsayExecutable()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        p.arguments = [exe]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(text.contains("libc.so"), "ldd printed: \(text)")
        for lib in ["libavahi", "libdbus"] { #expect(!text.contains(lib), "hearsay links \(lib)") }
    }
}

/// The gossip-only build (`make release-overlay`; `make test` builds its debug twin first, into
/// .build/overlay): chat is not linked, and asking for it is a clear error.
let overlayExecutable = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".build/overlay/debug/hearsay").path

@Suite(.blockingLane) struct OverlayBuildTests {
    static var overlay: String { overlayExecutable }

    @Test("the overlay build links neither Foundation nor SQLite nor TLS, and refuses --chat on",
          .enabled(if: FileManager.default.isExecutableFile(atPath: overlayExecutable),
                   "build it with `make test` (or swift build --disable-default-traits --scratch-path .build/overlay)"))
    func overlay() throws {
        let libs = try runToEnd(["/usr/bin/ldd", Self.overlay])
        #expect(libs.status == 0)
        for lib in ["libFoundation.so", "libsqlite3", "lib_FoundationICU", "libavahi"] {
            #expect(!libs.out.contains(lib), "the overlay build links \(lib)")
        }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runToEnd([Self.overlay, "node", "--data", dir, "--bind", "127.0.0.1:0", "--mdns", "off", "--chat", "on"])
        #expect(r.status == 1)
        #expect(r.err.contains("built without chat"), "\(r.err)")
    }
}

@Suite(.blockingLane) struct ProtocolsCommandTests {
    @Test("hearsay protocols lists the native realm and link-local XMPP; --json too")
    func lists() throws {
        let table = try hearsay(["protocols"])
        #expect(table.status == 0)
        #expect(table.out.contains("hearsay/1"))
        #expect(table.out.contains("xmpp-ll"))
        let json = try hearsay(["protocols", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [[String: Any]]
        #expect(rows?.first?["realm"] as? String == "hearsay")
        #expect(rows?.first?["defaultPort"] as? Int == 7947)
        #expect(rows?.last?["realm"] as? String == "xmpp-ll")
        #expect(rows?.last?["defaultPort"] as? Int == 5298)
        #expect((rows?.last?["security"] as? String)?.contains("unencrypted") == true)
    }
}

@Suite(.blockingLane) struct IdentityCommandTests {
    @Test("hearsay id creates a 0600 key in a 0700 data dir, then keeps the same id")
    func createsOnce() throws {
        let dir = temporaryDirectory() + "/data"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try hearsay(["id", "--data", dir])
        #expect(first.status == 0)
        #expect(first.out.contains("created a new identity"))
        let id = first.out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(NodeID(id) != nil, "not an id: \(id)")
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/identity.key")
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let dirAttrs = try FileManager.default.attributesOfItem(atPath: dir)
        #expect((dirAttrs[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let second = try hearsay(["id", "--data", dir])
        #expect(second.status == 0)
        #expect(!second.out.contains("created"))
        #expect(second.out.trimmingCharacters(in: .whitespacesAndNewlines) == id)
    }

    @Test("a key others can read is refused with what to do")
    func refusesWorldReadableKey() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try IdentityStore.loadOrCreate(in: dir)
        chmod(dir + "/identity.key", 0o644)
        let r = try hearsay(["id", "--data", dir])
        #expect(r.status != 0)
        #expect(r.err.contains("chmod 600"))
    }

    @Test("a damaged key file is an error, not a new identity")
    func refusesGarbage() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/identity.key", contents: Data("nonsense\n".utf8),
                                       attributes: [.posixPermissions: 0o600])
        #expect(throws: IdentityStore.Failure.self) { try IdentityStore.loadOrCreate(in: dir) }
    }
}

@Suite(.blockingLane) struct SimCommandTests {
    @Test("sim --json prints one object with every documented key")
    func jsonKeys() throws {
        let r = try hearsay(["sim", "--nodes", "30", "--seed", "4", "--duration", "30", "--partition", "3", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        for key in [
            "rounds_to_all", "seconds_to_all", "rounds_to_99pct", "join_seconds", "detect_first_seconds",
            "detect_all_seconds", "false_positives", "partition_heal_seconds", "bytes_per_node_per_second",
            "packets_per_node_per_second", "idle_bytes_per_node_per_second", "sends_per_node_per_update",
            "wall_seconds",
        ] {
            #expect(obj[key] != nil, "missing \(key)")
            #expect(!(obj[key] is NSNull), "\(key) is null")
        }
    }

    @Test("two processes with the same seed print the same figures")
    func sameSeedSameRunAcrossProcesses() throws {
        func run() throws -> [String: Any] {
            let r = try hearsay(["sim", "--nodes", "40", "--seed", "77", "--duration", "30", "--partition", "3", "--json"])
            #expect(r.status == 0, "\(r.err)")
            var obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            obj["wall_seconds"] = nil
            return obj
        }
        let a = try run()
        let b = try run()
        #expect(NSDictionary(dictionary: a).isEqual(to: b))
    }

    @Test("bad arguments are refused with a message")
    func validation() throws {
        let r = try hearsay(["sim", "--loss", "2"])
        #expect(r.status != 0)
        #expect(r.err.contains("--loss"))
    }

    @Test("the table form names every scenario")
    func table() throws {
        let r = try hearsay(["sim", "--nodes", "20", "--duration", "20", "--partition", "2"])
        #expect(r.status == 0)
        for label in ["join", "status change", "crash", "partition heal", "idle traffic"] {
            #expect(r.out.contains(label), "missing \(label)")
        }
    }
}
