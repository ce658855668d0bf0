import NIOCore
import Synchronization

/// Why a connection was not admitted or was closed before its protocol proved itself.
public enum AdmissionOutcome: String, Sendable, CaseIterable {
    case overTotal = "over-total"
    case overPending = "over-pending"
    case overPerSource = "over-per-source"
    case noDescriptors = "no-descriptors"
    case preAuthTimeout = "pre-auth-timeout"
}

/// Closes a refused connection as soon as it is registered and active (closing it from the
/// child initializer, by failing it, was seen to leave it open for seconds).
final class RefusedConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    func handlerAdded(context: ChannelHandlerContext) { if context.channel.isActive { context.close(promise: nil) } }
    func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Keeps one listener within its `ListenerLimits` and the process's `DescriptorBudget`. Call
/// `admit` first thing in the child channel initializer and `passed` once the connection's
/// protocol has proved who is on it. Thread-safe: children may live on several event loops.
public final class Admission: Sendable {
    public let listener: String
    public let limits: ListenerLimits
    let budget: DescriptorBudget?

    struct State {
        var open = 0
        var pending = 0
        var openBy: [String: Int] = [:]
        var pendingBy: [String: Int] = [:]
        var outcomes: [AdmissionOutcome: Int] = [:]
        var admitted = 0
    }
    let state = Mutex(State())

    public init(listener: String, limits: ListenerLimits, budget: DescriptorBudget?) {
        self.listener = listener
        self.limits = limits
        self.budget = budget
    }

    /// Admits `channel` (true: it is pending, under a deadline if the limits have one) or not
    /// (false: it is closed as soon as it is active, and counted; the initializer adds nothing
    /// else and succeeds). Call it first in the child channel initializer.
    public func admit(_ channel: Channel) -> Bool {
        let source = Self.source(of: channel)
        let refusal: AdmissionOutcome? = state.withLock { s in
            if s.open >= limits.maxConnections { return .overTotal }
            if s.pending >= limits.maxPending { return .overPending }
            if s.openBy[source, default: 0] >= limits.maxPerSource
                || s.pendingBy[source, default: 0] >= limits.maxPendingPerSource { return .overPerSource }
            if let budget, !budget.acquire() { return .noDescriptors }
            s.open += 1
            s.pending += 1
            s.openBy[source, default: 0] += 1
            s.pendingBy[source, default: 0] += 1
            s.admitted += 1
            return nil
        }
        if let refusal {
            count(refusal)
            try? channel.pipeline.syncOperations.addHandler(RefusedConnection())
            return false
        }
        let deadline = PreAuthDeadline(admission: self, source: source)
        channel.closeFuture.whenComplete { _ in deadline.closed() }
        do {
            try channel.pipeline.syncOperations.addHandler(deadline, position: .first)
        } catch {
            // The channel is going away; closeFuture gives the slot back.
        }
        return true
    }

    /// The connection's protocol has proved who is on it: it is no longer pending. Idempotent;
    /// call it on the channel's event loop.
    public static func passed(_ channel: Channel) {
        (try? channel.pipeline.syncOperations.handler(type: PreAuthDeadline.self))?.passed()
    }

    func left(source: String, wasPending: Bool) {
        state.withLock { s in
            s.open -= 1
            s.openBy[source, default: 1] -= 1
            if s.openBy[source] == 0 { s.openBy[source] = nil }
            if wasPending { s.leavePending(source) }
        }
        budget?.release()
    }

    func established(source: String) { state.withLock { $0.leavePending(source) } }

    func count(_ outcome: AdmissionOutcome) { state.withLock { $0.outcomes[outcome, default: 0] += 1 } }

    /// What this listener holds and has refused so far.
    public struct Figures: Sendable, Equatable {
        public var open: Int
        public var pending: Int
        public var admitted: Int
        public var outcomes: [AdmissionOutcome: Int]
    }

    public var figures: Figures {
        state.withLock { Figures(open: $0.open, pending: $0.pending, admitted: $0.admitted, outcomes: $0.outcomes) }
    }

    /// The source a connection is counted under: its IP address (any port), or "local".
    static func source(of channel: Channel) -> String {
        channel.remoteAddress?.ipAddress ?? "local"
    }
}

extension Admission.State {
    mutating func leavePending(_ source: String) {
        pending -= 1
        pendingBy[source, default: 1] -= 1
        if pendingBy[source] == 0 { pendingBy[source] = nil }
    }
}
