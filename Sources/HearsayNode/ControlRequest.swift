// No imports: the request is plain Codable, so that the libFuzzer target `control-json`
// (Tools/fuzz/targets/control-json.swift) compiles this file alone.

/// The control API: one JSON object per line over the node's Unix socket
/// (`<data>/control.sock`, reachable only by the user who owns the data directory, mode 0700).
/// Requests: `{"op":"table"}`, `{"op":"members"}`, `{"op":"status","status":"away","text":"..."}`,
/// `{"op":"watch"}` (then one `TableRow` line per change until the client hangs up).
public struct ControlRequest: Codable, Sendable {
    public var op: String
    public var status: String?
    public var text: String?
    /// Chat ops (ChatControl.swift): the peer (handle or id prefix), several texts, a history
    /// limit, a friends action, an answer, typing on or off.
    public var peer: String?
    public var texts: [String]?
    public var limit: Int?
    public var action: String?
    public var accept: Bool?
    public var on: Bool?

    public init(op: String, status: String? = nil, text: String? = nil, peer: String? = nil, texts: [String]? = nil,
                limit: Int? = nil, action: String? = nil, accept: Bool? = nil, on: Bool? = nil) {
        self.op = op
        self.status = status
        self.text = text
        self.peer = peer
        self.texts = texts
        self.limit = limit
        self.action = action
        self.accept = accept
        self.on = on
    }
}
