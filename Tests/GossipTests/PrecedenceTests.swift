import Gossip
import HearsayModel
import Testing

@Suite struct PrecedenceTests {
    static func entry(_ i: UInt64, _ s: UInt64) -> Precedence { .entry(EntryVersion(incarnation: i, sequence: s)) }

    @Test(arguments: [UInt64(0), 1, 7, 1 << 40])
    func swimOrderWithinAndAcrossIncarnations(i: UInt64) {
        for s: UInt64 in [0, 1, 1000, .max] {
            #expect(Self.entry(i, s) < .suspect(i))
            #expect(Self.entry(i, s) < .dead(i))
            #expect(Self.entry(i, s) < Self.entry(i + 1, 0))
        }
        #expect(Precedence.suspect(i) < .dead(i))
        #expect(Precedence.dead(i) < Self.entry(i + 1, 0))
        #expect(Precedence.suspect(i) < .suspect(i + 1))
        #expect(Precedence.dead(i) < .suspect(i + 1))
        #expect(!(Precedence.dead(i) < .suspect(i)))
        #expect(!(Precedence.suspect(i) < Self.entry(i, .max)))
    }

    @Test func sequencesOrderEntriesOfOneIncarnation() {
        for s: UInt64 in [0, 1, 254, 1 << 32] {
            #expect(Self.entry(3, s) < Self.entry(3, s + 1))
            #expect(!(Self.entry(3, s + 1) < Self.entry(3, s)))
            #expect(Self.entry(3, s) == Self.entry(3, s))
        }
    }

    @Test func sortingAMixedListGivesTheSwimOrder() {
        let expected: [Precedence] = [
            Self.entry(0, 0), Self.entry(0, 5), .suspect(0), .dead(0),
            Self.entry(1, 0), Self.entry(1, 1), .suspect(1), .dead(1), Self.entry(2, 0),
        ]
        var rng = SeededRandom(seed: 5)
        for _ in 0..<20 {
            #expect(expected.shuffled(using: &rng).sorted() == expected)
        }
    }

    @Test func updatesReportTheirPrecedence() {
        let e = Fx.signed(1, inc: 4, seq: 2)
        #expect(Update(.entry(e)).precedence == Self.entry(4, 2))
        #expect(Update(.suspect(id: Fx.id(1), incarnation: 4, from: Fx.id(2))).precedence == .suspect(4))
        #expect(Update(.dead(id: Fx.id(1), incarnation: 4, from: Fx.id(2))).precedence == .dead(4))
        // A member row's precedence follows its state.
        #expect(Fx.member(e, state: .alive).precedence == Self.entry(4, 2))
        #expect(Fx.member(e, state: .left).precedence == Self.entry(4, 2))
        #expect(Fx.member(e, state: .suspect, claim: 4).precedence == .suspect(4))
        #expect(Fx.member(e, state: .dead, claim: 5).precedence == .dead(5))
    }
}
