/// A fixed-point amount of credits: whole micro-credits in an `Int64`.
///
/// There are no floating-point balances anywhere. Text conversion goes through integers only.
public struct Credits: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let microsPerCredit: Int64 = 1_000_000

    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public init(whole: Int64) { self.micros = whole * Self.microsPerCredit }

    public static let zero = Credits(micros: 0)

    public static func < (a: Credits, b: Credits) -> Bool { a.micros < b.micros }
    public static func + (a: Credits, b: Credits) -> Credits { Credits(micros: a.micros + b.micros) }
    public static func - (a: Credits, b: Credits) -> Credits { Credits(micros: a.micros - b.micros) }
    public static prefix func - (a: Credits) -> Credits { Credits(micros: -a.micros) }

    /// Parses a decimal such as `12`, `-3.5` or `0.000001`. More than six fractional digits is an error,
    /// because it would silently round money.
    public init?(decimal text: String) {
        guard let micros = FixedPoint.parse(text, scale: 6) else { return nil }
        self.micros = micros
    }

    /// The amount as a decimal string with trailing zeros removed: `12.5`, `0.000001`, `-3`.
    public var description: String { FixedPoint.format(micros, scale: 6) }
}

/// Decimal text to and from scaled integers, with no floating point in between.
public enum FixedPoint {
    public static func parse(_ text: String, scale: Int) -> Int64? {
        var s = Substring(text.trimmingCharactersInWhitespace())
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholePart = parts.first, !wholePart.isEmpty || parts.count == 2 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= scale, wholePart.allSatisfy(\.isASCIIDigit), fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        guard !(wholePart.isEmpty && fraction.isEmpty) else { return nil }
        let whole = wholePart.isEmpty ? 0 : Int64(wholePart)
        let padded = fraction + String(repeating: "0", count: scale - fraction.count)
        guard let whole, let frac = padded.isEmpty ? 0 : Int64(padded) else { return nil }
        let unit = pow10(scale)
        let (scaled, o1) = whole.multipliedReportingOverflow(by: unit)
        let (sum, o2) = scaled.addingReportingOverflow(frac)
        guard !o1, !o2 else { return nil }
        return negative ? -sum : sum
    }

    public static func format(_ value: Int64, scale: Int) -> String {
        let unit = pow10(scale)
        let magnitude = value.magnitude
        let whole = magnitude / UInt64(unit)
        var frac = String(magnitude % UInt64(unit))
        frac = String(repeating: "0", count: scale - frac.count) + frac
        while frac.last == "0" { frac.removeLast() }
        let sign = value < 0 ? "-" : ""
        return frac.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(frac)"
    }

    static func pow10(_ n: Int) -> Int64 { (0..<n).reduce(Int64(1)) { acc, _ in acc * 10 } }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
