import Foundation
import Synchronization

/// Slows down password guessing: sign-in attempts per client address per minute, and failed
/// sign-ins per account per 15 minutes. The in-process implementation is `LocalLoginThrottle`;
/// with several instances the windows live in Redis, or each instance would allow the full
/// count and an attacker would spread guesses across them.
public protocol LoginThrottling: Sendable {
    /// Counts an attempt from `address` for `account`. Nil when it may go ahead; otherwise the
    /// seconds to wait. Throws when shared windows cannot be reached.
    func admit(address: String, account: String, now: Double) async throws -> Int?
    /// Counts a failed sign-in against `account`. A failure that cannot be counted is logged by
    /// the implementation and dropped.
    func recordFailure(account: String, now: Double) async
}

public enum LoginWindows {
    /// Window lengths in seconds.
    public static let addressSeconds: Double = 60
    public static let accountSeconds: Double = 900
}

public final class LocalLoginThrottle: LoginThrottling {
    struct Windows {
        var byAddress: [String: SlidingWindow] = [:]
        var byAccount: [String: SlidingWindow] = [:]
    }

    private let windows = Mutex(Windows())
    private let attemptsPerAddress: Int
    private let failuresPerAccount: Int
    /// Entries kept before idle ones are dropped, so a spray of addresses cannot grow memory forever.
    private let pruneAbove = 50_000

    public init(attemptsPerAddressPerMinute: Int, failuresPerAccountPer15Minutes: Int) {
        attemptsPerAddress = attemptsPerAddressPerMinute
        failuresPerAccount = failuresPerAccountPer15Minutes
    }

    public func admit(address: String, account: String, now: Double) -> Int? {
        let account = account.lowercased()
        return windows.withLock { w in
            var perAccount = w.byAccount[account] ?? SlidingWindow(length: LoginWindows.accountSeconds)
            if perAccount.count(at: now) >= Double(failuresPerAccount) {
                return perAccount.secondsUntilBelow(failuresPerAccount, at: now)
            }
            var perAddress = w.byAddress[address] ?? SlidingWindow(length: LoginWindows.addressSeconds)
            if perAddress.count(at: now) >= Double(attemptsPerAddress) {
                return perAddress.secondsUntilBelow(attemptsPerAddress, at: now)
            }
            perAddress.add(1, at: now)
            w.byAddress[address] = perAddress
            if w.byAddress.count > pruneAbove { w.byAddress = w.byAddress.filter { $0.value.isBusy(at: now) } }
            return nil
        }
    }

    public func recordFailure(account: String, now: Double) {
        windows.withLock { w in
            w.byAccount[account.lowercased(), default: SlidingWindow(length: LoginWindows.accountSeconds)].add(1, at: now)
            if w.byAccount.count > pruneAbove { w.byAccount = w.byAccount.filter { $0.value.isBusy(at: now) } }
        }
    }
}
