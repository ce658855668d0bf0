import ListenerLimits

/// The node's listeners' admissions, made once in the composition root from
/// `NodeOptions.listeners`: the network ones share the process's descriptor budget; the control
/// API (this user, a Unix socket) lives off the reserve they leave.
struct Admissions: Sendable {
    let gossipStream: Admission
    let chat: Admission
    let xmpp: Admission
    let metrics: Admission
    let control: Admission

    init(_ limits: NodeListenerLimits, descriptors: DescriptorBudget) {
        gossipStream = Admission(listener: "gossip-tcp", limits: limits.gossipStream, budget: descriptors)
        chat = Admission(listener: "chat", limits: limits.chat, budget: descriptors)
        xmpp = Admission(listener: "xmpp", limits: limits.xmpp, budget: descriptors)
        metrics = Admission(listener: "metrics", limits: limits.metrics, budget: descriptors)
        control = Admission(listener: "control", limits: limits.control, budget: nil)
    }

    var all: [Admission] { [gossipStream, chat, xmpp, metrics, control] }
}
