import NIOCore

/// First in an admitted connection's pipeline: closes it if its protocol has not proved itself
/// (`Admission.passed`) within the listener's `preAuthTimeout`, and gives its slot back when
/// it closes. Lives on the channel's event loop.
final class PreAuthDeadline: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    let admission: Admission
    let source: String
    private var pending = true
    private var gone = false
    private var timer: Scheduled<Void>?

    init(admission: Admission, source: String) {
        self.admission = admission
        self.source = source
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let timeout = admission.limits.preAuthTimeout else { return }
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, self.pending, !self.gone else { return }
            self.admission.count(.preAuthTimeout)
            channel.close(promise: nil)
        }
    }

    func passed() {
        guard pending, !gone else { return }
        pending = false
        timer?.cancel()
        timer = nil
        admission.established(source: source)
    }

    /// From the channel's close future (on its loop): the slot goes back, once.
    func closed() {
        guard !gone else { return }
        gone = true
        timer?.cancel()
        timer = nil
        admission.left(source: source, wasPending: pending)
    }
}
