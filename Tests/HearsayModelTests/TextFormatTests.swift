import Foundation
import HearsayModel
import Testing

@Suite struct TextFormatTests {
    /// `fixedPoint` agrees with C's `%.Nf` (Foundation's `String(format:)`) on ordinary values.
    @Test(arguments: [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 0.125, 3.14159, -0.0004, 12345.6789, 0.0139, 99.995, 1e-9, 7e12])
    func matchesPrintf(value: Double) {
        for digits in 0...4 {
            #expect(fixedPoint(value, digits: digits) == String(format: "%.\(digits)f", value), "value \(value), \(digits) digits")
        }
    }

    @Test func nonFiniteValues() {
        #expect(fixedPoint(.nan, digits: 2) == "nan")
        #expect(fixedPoint(.infinity, digits: 2) == "inf")
        #expect(fixedPoint(-.infinity, digits: 1) == "-inf")
    }

    @Test func columnsPadAndCut() {
        #expect(column("abc", 6) == "abc   ")
        #expect(column("abcdef", 4) == "abc ")
        #expect(leftAligned("abcdef", 4) == "abcdef")
        #expect(leftAligned("ab", 4) == "ab  ")
    }
}
