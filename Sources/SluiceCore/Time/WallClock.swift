import Foundation

/// Where the gateway's rules read the time of day: cooldown ends, provider resets, key expiry,
/// cache ages, rate windows and allowance refills. These are wall-clock times because the store
/// and the other instances share them.
///
/// Every rule takes its clock from here rather than calling `Date()`, so a test sets the time and
/// moves it on (`ManualClock` in the test support) instead of sleeping.
public protocol WallClock: Sendable {
    func now() -> Date
    /// Waits until this clock has moved on by `duration`: for a rule that waits for a time to
    /// come (a cooldown that ends in a moment), so that under a test's clock it comes at once.
    func sleep(for duration: Duration) async throws
}

/// The machine's clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
