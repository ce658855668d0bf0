import HearsayModel

/// The total order of everything that can be said about a member (SWIM §4.2, plus sequences):
///
///     alive/left entry (i, s)  <  suspect(i)  <  dead(i)  <  any entry (i+1, s')
///
/// An entry is `(incarnation, 0, sequence)`, a suspicion `(incarnation, 1, 0)`, a death
/// `(incarnation, 2, 0)`; the larger tuple wins. Only the owner can raise the incarnation, so
/// only the owner can overturn a suspicion or death (refutation).
public struct Precedence: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var incarnation: UInt64
    public var rank: UInt8
    public var sequence: UInt64

    public init(incarnation: UInt64, rank: UInt8, sequence: UInt64) {
        self.incarnation = incarnation
        self.rank = rank
        self.sequence = sequence
    }

    public static func entry(_ v: EntryVersion) -> Precedence {
        Precedence(incarnation: v.incarnation, rank: 0, sequence: v.sequence)
    }

    public static func suspect(_ incarnation: UInt64) -> Precedence {
        Precedence(incarnation: incarnation, rank: 1, sequence: 0)
    }

    public static func dead(_ incarnation: UInt64) -> Precedence {
        Precedence(incarnation: incarnation, rank: 2, sequence: 0)
    }

    public static func < (a: Precedence, b: Precedence) -> Bool {
        (a.incarnation, a.rank, a.sequence) < (b.incarnation, b.rank, b.sequence)
    }

    public var description: String {
        switch rank {
        case 0: "\(incarnation).\(sequence)"
        case 1: "suspect@\(incarnation)"
        default: "dead@\(incarnation)"
        }
    }
}
