import ListenerLimits
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A listener on 127.0.0.1 that admits through `admission` and marks a connection passed when
/// it sends a byte "P".
func listener(_ admission: Admission) async throws -> Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { ch in
            guard admission.admit(ch) else { return ch.eventLoop.makeSucceededVoidFuture() }
            return ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(PassOnP()) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

final class PassOnP: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).readableBytesView.contains(UInt8(ascii: "P")) { Admission.passed(context.channel) }
    }
}

/// A plain TCP client socket from `source` (127.0.0.x) to `port`; its descriptor.
func connectFrom(_ source: String, to port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var from = sockaddr_in(), to = sockaddr_in()
    from.sin_family = sa_family_t(AF_INET); inet_pton(AF_INET, source, &from.sin_addr)
    to.sin_family = sa_family_t(AF_INET); to.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr)
    _ = withUnsafePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    _ = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    return fd
}

/// Whether the other end closed `fd` (EOF or reset), waiting at most `seconds`.
func closedByPeer(_ fd: Int32, within seconds: Double) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&p, 1, Int32(seconds * 1000)) == 1 else { return false }
    var b: UInt8 = 0
    return read(fd, &b, 1) <= 0
}

/// Polls `condition` every 20 ms, at most 500 times (10 s, longer on a loaded machine).
func until(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

@Suite(.serialized) struct AdmissionTests {
    @Test("pending connections are capped per source and in all, the rest are closed at once; a slot comes back when one closes")
    func capsPendingPerSourceAndInTotal() async throws {
        let limits = ListenerLimits(maxConnections: 100, maxPending: 5, maxPendingPerSource: 3, maxPerSource: 10, preAuthTimeout: nil)
        let a = Admission(listener: "t", limits: limits, budget: nil)
        let server = try await listener(a)
        let port = server.localAddress!.port!
        let one = (0..<4).map { _ in connectFrom("127.0.0.1", to: port) }
        #expect(await until { a.figures.outcomes[.overPerSource] == 1 }, "a 4th pending connection from one source is refused")
        let two = (0..<3).map { _ in connectFrom("127.0.0.2", to: port) }
        #expect(await until { a.figures.outcomes[.overPending] == 1 }, "the 6th pending in all is refused")
        #expect(one.filter { closedByPeer($0, within: 1) }.count == 1)
        #expect(two.filter { closedByPeer($0, within: 1) }.count == 1)
        #expect(a.figures.open == 5 && a.figures.pending == 5)
        // One proves itself: no longer pending, so a newcomer gets in.
        for fd in one { _ = write(fd, "P", 1) }
        #expect(await until { a.figures.pending == 2 })
        let three = connectFrom("127.0.0.3", to: port)
        #expect(await until { a.figures.admitted == 6 && a.figures.pending == 3 })
        // Closing gives slots back.
        for fd in one { close(fd) }
        #expect(await until { a.figures.open == 3 }, "\(a.figures)")
        for fd in two + [three] { close(fd) }
        #expect(await until { a.figures.open == 0 && a.figures.pending == 0 })
        try await server.close()
    }

    @Test("a connection that does not prove itself within the pre-auth timeout is closed; one that does stays")
    func preAuthDeadline() async throws {
        let limits = ListenerLimits(maxConnections: 10, maxPending: 10, maxPendingPerSource: 10, maxPerSource: 10,
                                    preAuthTimeout: .milliseconds(300))
        let a = Admission(listener: "t", limits: limits, budget: nil)
        let server = try await listener(a)
        let silent = connectFrom("127.0.0.1", to: server.localAddress!.port!)
        let talker = connectFrom("127.0.0.1", to: server.localAddress!.port!)
        _ = write(talker, "P", 1)
        #expect(closedByPeer(silent, within: 3))
        #expect(!closedByPeer(talker, within: 0.6))
        #expect(a.figures.outcomes[.preAuthTimeout] == 1)
        close(silent); close(talker)
        try await server.close()
    }

    @Test("the descriptor budget stops network listeners short of the reserve, across listeners")
    func descriptorReserve() async throws {
        let budget = DescriptorBudget(limit: 10, reserve: 6)  // 4 for the network in all
        let open = ListenerLimits(maxConnections: 100, maxPending: 100, maxPendingPerSource: 100, maxPerSource: 100, preAuthTimeout: nil)
        let a = Admission(listener: "a", limits: open, budget: budget), b = Admission(listener: "b", limits: open, budget: budget)
        let sa = try await listener(a), sb = try await listener(b)
        let fa = (0..<3).map { _ in connectFrom("127.0.0.1", to: sa.localAddress!.port!) }
        for _ in 0..<100 where a.figures.open < 3 { try await Task.sleep(for: .milliseconds(20)) }  // accepted
        let fb = (0..<2).map { _ in connectFrom("127.0.0.1", to: sb.localAddress!.port!) }
        #expect(await until { b.figures.outcomes[.noDescriptors] == 1 }, "the 5th network connection would eat into the reserve")
        #expect(fb.filter { closedByPeer($0, within: 1) }.count == 1)
        #expect(budget.taken == 4)
        #expect(b.figures.outcomes[.noDescriptors] == 1)
        close(fa[0])
        #expect(await until { budget.taken == 3 })
        for fd in fa.dropFirst() + fb { close(fd) }  // fa[0] is closed already
        try await sa.close(); try await sb.close()
    }

    @Test func byteBudgetReservesAndGivesBack() {
        let b = ByteBudget(capacity: 100)
        #expect(b.reserve(60))
        #expect(!b.reserve(50))
        #expect(b.refused == 1)
        b.release(60)
        #expect(b.reserve(100))
        #expect(b.inUse == 100)
    }
}
