import Foundation

/// Where the gateway's rules read the time of day: cooldown ends, provider resets, key expiry,
/// cache ages, rate windows and allowance refills. These are wall-clock times because the store
/// and the other instances share them.
///
/// Every rule takes its clock from here rather than calling `Date()`, so a test sets the time and
/// moves it on (`ManualClock` in the test support) instead of sleeping.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The machine's clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
