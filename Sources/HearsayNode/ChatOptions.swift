import Conversation

/// Chat settings of a node (`hearsay node --chat-port --policy --durability`).
public struct ChatOptions: Sendable {
    /// Off: no chat port, no store (a headless overlay node).
    public var enabled = true
    /// The TCP port of native sessions; nil: the gossip port + 1 (7947 next to 7946); 0: any.
    public var port: UInt16?
    /// Who may open a session: everyone (the zero-setup LAN default), friends, or ask.
    public var policy: SessionPolicy = .everyone
    public var durability: ChatDurability = .process
    /// When to try an unacknowledged message again (it also goes as soon as gossip shows the peer back).
    public var retry = RetryPolicy()
    /// How often the outbox is looked at for messages whose retry time has come.
    public var tickMillis: Int64 = 500

    public init() {}
}

/// Why a chat request failed, with what to do.
public struct ChatError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// How hard the chat store's commits wait for the disk (`--durability`).
public enum ChatDurability: String, Sendable, CaseIterable {
    /// SQLite WAL with `synchronous = NORMAL`: a commit survives the node being killed, not a power cut.
    case process
    /// `synchronous = FULL`: every commit is fsynced.
    case power
}

/// Whether this binary was built with chat (the package trait `Chat`, on by default).
public let chatBuilt: Bool = {
    #if Chat
    true
    #else
    false
    #endif
}()
