import Foundation
import SluiceCore
import Synchronization

/// One account lent to one request attempt. It counts as in flight on the account until it is
/// released: explicitly when the attempt fails or the request ends, or at the latest when the
/// lease is dropped, so a path that forgets cannot leak a concurrency slot.
public final class AccountLease: Sendable {
    public let account: AccountPool.Account
    /// The tier the account served from: `shared` spends the requester's pool allowance.
    public let tier: PoolCandidate.Tier
    private let pool: AccountPool
    private let released = Atomic(false)

    init(account: AccountPool.Account, tier: PoolCandidate.Tier, pool: AccountPool) {
        self.account = account
        self.tier = tier
        self.pool = pool
    }

    deinit { release() }

    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pool.release(account.record.id)
    }
}

extension AccountPool {
    func release(_ accountID: Int64) {
        let woken = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if let inFlight = state.runtime[accountID]?.inFlight, inFlight > 0 { state.runtime[accountID]?.inFlight = inFlight - 1 }
            return state.waiters.slotFreed(on: accountID)
        }
        woken?.resume(returning: true)
    }

    /// Waits until one of `accounts` frees a slot, at most `timeout`. False when the wait timed
    /// out, or the queue of waiting requests was already full (`Settings.maxQueued`).
    public func waitForCapacity(on accounts: Set<Int64>, timeout: Duration) async -> Bool {
        let id = state.withLock { $0.waiters.makeID() }
        let signalled = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.queueUp(id, for: accounts) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            var signalled = await group.next() ?? false
            group.cancelAll()
            // A slot that arrived as the timer fired still counts: it was handed to this request.
            while let other = await group.next() { signalled = signalled || other }
            return signalled
        }
        state.withLock { $0.waiters.settled(id) }
        return signalled
    }

    private func queueUp(_ id: UInt64, for accounts: Set<Int64>) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let action = state.withLock { state in
                    state.waiters.enqueue(.init(id: id, accounts: accounts, continuation: continuation), limit: settings.maxQueued)
                }
                if case .refuse(let continuation) = action { continuation.resume(returning: false) }
            }
        } onCancel: {
            state.withLock { $0.waiters.cancel(id) }?.resume(returning: false)
        }
    }
}
