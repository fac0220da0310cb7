import Foundation
import SluiceCore
import Synchronization

/// Slows down password guessing: sign-in attempts per client address per minute, and failed
/// sign-ins per account per 15 minutes. In-process; several instances each keep their own.
final class LoginThrottle: Sendable {
    struct Windows {
        var byAddress: [String: SlidingWindow] = [:]
        var byAccount: [String: SlidingWindow] = [:]
    }

    private let windows = Mutex(Windows())
    private let attemptsPerAddress: Int
    private let failuresPerAccount: Int
    /// Entries kept before idle ones are dropped, so a spray of addresses cannot grow memory forever.
    private let pruneAbove = 50_000

    init(attemptsPerAddressPerMinute: Int, failuresPerAccountPer15Minutes: Int) {
        attemptsPerAddress = attemptsPerAddressPerMinute
        failuresPerAccount = failuresPerAccountPer15Minutes
    }

    /// Counts an attempt from `address` for `account`, or throws a 429 with `Retry-After`.
    func admit(address: String, account: String, now: Double = Date().timeIntervalSince1970) throws(GatewayError) {
        let account = account.lowercased()
        let refusal: Int? = windows.withLock { w in
            var perAccount = w.byAccount[account] ?? SlidingWindow(length: 900)
            if perAccount.count(at: now) >= Double(failuresPerAccount) {
                return perAccount.secondsUntilBelow(failuresPerAccount, at: now)
            }
            var perAddress = w.byAddress[address] ?? SlidingWindow(length: 60)
            if perAddress.count(at: now) >= Double(attemptsPerAddress) {
                return perAddress.secondsUntilBelow(attemptsPerAddress, at: now)
            }
            perAddress.add(1, at: now)
            w.byAddress[address] = perAddress
            if w.byAddress.count > pruneAbove { w.byAddress = w.byAddress.filter { $0.value.isBusy(at: now) } }
            return nil
        }
        if let refusal { throw .rateLimited("Too many sign-in attempts. Try again later.", retryAfterSeconds: refusal) }
    }

    func recordFailure(account: String, now: Double = Date().timeIntervalSince1970) {
        windows.withLock { w in
            w.byAccount[account.lowercased(), default: SlidingWindow(length: 900)].add(1, at: now)
            if w.byAccount.count > pruneAbove { w.byAccount = w.byAccount.filter { $0.value.isBusy(at: now) } }
        }
    }
}
