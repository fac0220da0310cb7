import Foundation

/// The ways providers say when a limit resets. A provider manifest lists the ones its provider
/// sends (`reset_hints`); only those are read, so a header another provider uses differently
/// cannot mislead the cooldown.
public enum ResetHintSource: String, Sendable, CaseIterable, Codable {
    /// `Retry-After`: delay-seconds or an HTTP date.
    case retryAfter = "retry-after"
    /// `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`: durations such as `6m0s` or `1.5s`
    /// (OpenAI, Groq).
    case openAIDurations = "x-ratelimit-reset-durations"
    /// `x-ratelimit-reset`: epoch seconds, or seconds from now when the number is small.
    case resetSeconds = "x-ratelimit-reset"
    /// `anthropic-ratelimit-*-reset`: RFC 3339 times.
    case anthropic = "anthropic-ratelimit"
    /// Google-style error bodies: `retryDelay` (a duration) or `quotaResetTimeStamp` (RFC 3339).
    case googleBody = "google-error-body"
}

/// Reads a provider's reset time from a failed response.
public enum ResetHints {
    /// The time the limit resets, or nil when the provider gave no hint it is known to send.
    ///
    /// `Retry-After` wins when present: it is the provider's answer to exactly this request. Of the
    /// per-limit headers, a limit whose `remaining` is 0 is the one that refused us; when none
    /// says so, the latest reset is used, so an account is never retried before every limit resets.
    public static func resetTime(
        header: (String) -> String?, body: Data?, sources: Set<ResetHintSource>, now: Date
    ) -> Date? {
        if sources.contains(.retryAfter), let value = header("retry-after"), let date = RetryAfter.parse(value, now: now) {
            return date
        }
        var limits: [(reset: Date, exhausted: Bool)] = []
        func exhausted(_ name: String) -> Bool { header(name).flatMap { Double($0.trimmingCharactersInWhitespace()) } == 0 }
        if sources.contains(.openAIDurations) {
            for kind in ["requests", "tokens"] {
                if let value = header("x-ratelimit-reset-\(kind)"), let seconds = Durations.parse(value) {
                    limits.append((now.addingTimeInterval(seconds), exhausted("x-ratelimit-remaining-\(kind)")))
                }
            }
        }
        if sources.contains(.resetSeconds), let value = header("x-ratelimit-reset"), let number = Double(value.trimmingCharactersInWhitespace()),
           number.isFinite, number >= 0
        {
            // Epoch seconds are past 2001; a relative delay is never that long.
            let reset = number > 1_000_000_000 ? Date(timeIntervalSince1970: number) : now.addingTimeInterval(number)
            limits.append((reset, exhausted("x-ratelimit-remaining")))
        }
        if sources.contains(.anthropic) {
            for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
                if let value = header("anthropic-ratelimit-\(kind)-reset"), let reset = RFC3339.parse(value) {
                    limits.append((reset, exhausted("anthropic-ratelimit-\(kind)-remaining")))
                }
            }
        }
        if sources.contains(.googleBody), let body, let reset = googleReset(body, now: now) {
            limits.append((reset, true))
        }
        let refusing = limits.filter(\.exhausted)
        return (refusing.isEmpty ? limits : refusing).map(\.reset).max()
    }

    /// `quotaResetTimeStamp` or `retryDelay` anywhere in a Google error body.
    static func googleReset(_ body: Data, now: Date) -> Date? {
        guard let root = try? JSONSerialization.jsonObject(with: body) else { return nil }
        var found: Date?
        func visit(_ value: Any) {
            if let object = value as? [String: Any] {
                if let stamp = object["quotaResetTimeStamp"] as? String, let date = RFC3339.parse(stamp) {
                    found = max(found ?? date, date)
                }
                if let delay = object["retryDelay"] as? String, let seconds = Durations.parse(delay) {
                    let date = now.addingTimeInterval(seconds)
                    found = max(found ?? date, date)
                }
                object.values.forEach(visit)
            } else if let array = value as? [Any] {
                array.forEach(visit)
            }
        }
        visit(root)
        return found
    }
}

/// Go-style durations, as OpenAI and Google write them: `6m0s`, `1.5s`, `20ms`, `1h2m`, `250us`.
public enum Durations {
    public static func parse(_ text: String) -> TimeInterval? {
        var rest = Substring(text.trimmingCharactersInWhitespace())
        guard !rest.isEmpty else { return nil }
        var total: TimeInterval = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let scale: TimeInterval? =
                switch unit {
                case "h": 3600
                case "m": 60
                case "s": 1
                case "ms": 0.001
                case "us", "µs": 0.000_001
                case "ns": 0.000_000_001
                default: nil
                }
            guard let scale else { return nil }
            total += value * scale
        }
        return total
    }
}

/// RFC 3339 timestamps, with or without fractional seconds.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharactersInWhitespace()
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: trimmed) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: trimmed)
    }
}
