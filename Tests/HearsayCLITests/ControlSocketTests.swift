import Foundation
@testable import HearsayNode
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `argv` for at most `seconds`: its status, or nil if it was still running (then it is
/// killed by its PID and reaped).
func runBounded(_ argv: [String], seconds: Double, stderr: String) throws -> Int32? {
    let pid = try spawn(argv, stderr: stderr)
    var status: Int32 = 0
    var reaped = false
    _ = poll(seconds) {
        reaped = waitpid(pid, &status, WNOHANG) == pid
        return reaped
    }
    guard reaped else {
        kill(pid, SIGKILL)
        waitExit(pid)
        return nil
    }
    return (status >> 8) & 0xff
}

/// The control socket's path (issue 11, finding 8): never world-accessible whatever the umask,
/// and a node never deletes what is not a stale socket.
@Suite(.serialized, .blockingLane) struct ControlSocketTests {
    func nodeArgs(_ c: Cluster, _ i: Int, control: String) throws -> [String] {
        [try hearsayExecutable(), "node", "--data", c.data(i), "--handle", "node\(i)", "--bind", c.address(i), "--mdns", "off",
         "--control", control]
    }

    @Test("--control naming a directory, a regular file or a live node's socket: a clear error, left intact")
    func refusesWhatIsNotAStaleSocket() throws {
        let c = Cluster()
        defer { c.stopAll() }
        let dir = c.root + "/a-directory"
        try FileManager.default.createDirectory(atPath: dir + "/inside", withIntermediateDirectories: true)
        let file = c.root + "/a-file"
        try "keep me".write(toFile: file, atomically: true, encoding: .utf8)
        let err = c.root + "/err"
        for (path, what) in [(dir, "is a directory"), (file, "is a regular file")] {
            let status = try runBounded(try nodeArgs(c, 1, control: path), seconds: 15, stderr: err)
            #expect(status == 1, "the node must refuse --control \(path)")
            let message = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            #expect(message.contains("\(path) exists and \(what), not a control socket"), "\(message)")
            #expect(message.contains("left as it is"))
        }
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir + "/inside", isDirectory: &isDir) && isDir.boolValue)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me")

        // A socket a running node answers on.
        try c.start(0, join: nil)
        let live = c.data(0) + "/control.sock"
        #expect(poll(10) { c.table(0) != nil })
        let status = try runBounded(try nodeArgs(c, 1, control: live), seconds: 15, stderr: err)
        #expect(status == 1)
        #expect(((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("a node already answers on the control socket"))
        #expect(c.table(0)?.count == 1, "the running node still answers on its socket")
        // Nothing of the temporary directory is left beside the paths tried.
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.root).filter { $0.hasPrefix(".hs-") }.isEmpty)
    }

    @Test("a stale socket (a node killed with -9) is replaced; under umask 000 the socket is 0600 from the start")
    func staleSocketAndUmask() throws {
        let c = Cluster()
        defer { c.stopAll() }
        let control = c.root + "/outside/ctl.sock"
        try FileManager.default.createDirectory(atPath: c.root + "/outside", withIntermediateDirectories: true)
        chmod(c.root + "/outside", 0o777)
        // A stale socket: bound, then its process gone.
        try c.start(0, join: nil, extra: ["--control", control])
        #expect(poll(10) { (try? ControlClient(path: control).request(ControlRequest(op: "table"))) != nil })
        c.kill9(0)
        #expect(ControlSocketPath.occupant(of: control) == .staleSocket)
        // Restarted under umask 000 (through sh, so that the test process keeps its own umask).
        let script = "umask 000; exec \"$@\""
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh"] + (try nodeArgs(c, 0, control: control))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        c.procs[0] = Cluster.Proc(process: p, data: c.data(0), address: c.address(0))
        #expect(poll(10) { (try? ControlClient(path: control).request(ControlRequest(op: "table"))) != nil })
        var st = stat()
        #expect(lstat(control, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFSOCK)
        #expect(st.st_mode & 0o777 == 0o600, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.root + "/outside") == ["ctl.sock"])
        // A graceful stop removes its own socket, and only that.
        c.terminate(0)
        #expect(ControlSocketPath.occupant(of: control) == .nothing)
    }
}
