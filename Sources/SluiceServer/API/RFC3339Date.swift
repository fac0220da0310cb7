import Foundation

/// Times as `/openapi.json`'s `date-time` and `date` formats define them (RFC 3339): `T` or `t`,
/// fractional seconds or none, `Z`, `z` or an offset. Foundation's ISO 8601 readers each take only
/// one of those spellings, so a time the document allows could be refused.
enum RFC3339Date {
    static func time(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let midnight = day(bytes[0..<10]), "Tt".utf8.contains(bytes[10]),
            let hour = number(bytes, at: 11), bytes[13] == UInt8(ascii: ":"), let minute = number(bytes, at: 14),
            bytes[16] == UInt8(ascii: ":"), let second = number(bytes, at: 17), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            let start = index
            index += 1
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start + 1, let value = Double("0" + String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
            fraction = value
        }
        guard let offset = offset(bytes[index...]) else { return nil }
        let seconds = Double(hour * 3600 + minute * 60 + second) + fraction - Double(offset)
        return midnight.addingTimeInterval(seconds)
    }

    /// `2026-11-01`: its midnight UTC.
    static func day(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        return bytes.count == 10 ? day(bytes[0...]) : nil
    }

    private static func day(_ slice: ArraySlice<UInt8>) -> Date? {
        let bytes = Array(slice)
        guard let high = number(bytes, at: 0), let low = number(bytes, at: 2), bytes[4] == UInt8(ascii: "-"), let month = number(bytes, at: 5),
            bytes[7] == UInt8(ascii: "-"), let day = number(bytes, at: 8)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: high * 100 + low, month: month, day: day)
        // The calendar would roll 2026-02-30 over into March; RFC 3339 calls it invalid.
        guard (1...12).contains(month), day >= 1, let date = calendar.date(from: components),
            calendar.component(.day, from: date) == day
        else { return nil }
        return date
    }

    /// Seconds east of UTC: `Z`, `z` or `+hh:mm`/`-hh:mm`, and nothing after it.
    private static func offset(_ bytes: ArraySlice<UInt8>) -> Int? {
        let rest = Array(bytes)
        if rest.count == 1, "Zz".utf8.contains(rest[0]) { return 0 }
        guard rest.count == 6, rest[0] == UInt8(ascii: "+") || rest[0] == UInt8(ascii: "-"), let hours = number(rest, at: 1),
            rest[3] == UInt8(ascii: ":"), let minutes = number(rest, at: 4), hours < 24, minutes < 60
        else { return nil }
        return (rest[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// The two decimal digits at `index`.
    private static func number(_ bytes: [UInt8], at index: Int) -> Int? {
        guard index + 1 < bytes.count else { return nil }
        let digits = bytes[index...index + 1].map { Int($0) - Int(UInt8(ascii: "0")) }
        guard digits.allSatisfy({ (0...9).contains($0) }) else { return nil }
        return digits[0] * 10 + digits[1]
    }
}
