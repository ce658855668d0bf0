// Text formatting for tables and reports, without Foundation's `String(format:)` and
// `padding(toLength:)`: those live in full Foundation, which would load Foundation and ICU
// into the node process (Docs/decisions/0006-foundation-essentials-only.md).

/// `value` with a fixed count of decimals ("3.142"), rounded as `%.Nf` rounds.
public func fixedPoint(_ value: Double, digits: Int) -> String {
    precondition((0...9).contains(digits), "fixedPoint: 0 to 9 decimals")
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale: Double = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value.magnitude * scale).rounded(.toNearestOrEven)
    guard scaled < 9.0e18 else { return "\(value)" }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale), frac = n % UInt64(scale)
    var s = (value.sign == .minus ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}

/// `s` cut or padded to a column of `width` characters; a cut value keeps a space before the
/// next column.
public func column(_ s: String, _ width: Int) -> String {
    s.count >= width ? String(s.prefix(width - 1)) + " " : s + String(repeating: " ", count: width - s.count)
}

/// `s` padded with spaces to at least `width` characters (never cut).
public func leftAligned(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
