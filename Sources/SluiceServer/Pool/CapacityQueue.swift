import Foundation
import SluiceCore
import Synchronization

/// One account lent to one request attempt. It counts as in flight on the account until it is
/// released: explicitly when the attempt fails or the request ends, or at the latest when the
/// lease is dropped, so a path that forgets cannot leak a concurrency slot.
public final class AccountLease: Sendable {
    public let account: PoolAccount
    /// The tier the account served from: `shared` spends the requester's pool allowance.
    public let tier: PoolCandidate.Tier
    private let pool: AccountPool
    private let released = Atomic(false)

    init(account: PoolAccount, tier: PoolCandidate.Tier, pool: AccountPool) {
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

/// The accounts a request found busy, and how many slots had been freed before it looked: a
/// slot freed after that look wakes it even if it was freed before the request queued.
public struct BusyAccounts: Sendable, Equatable {
    public var ids: Set<Int64>
    public var slotsFreedBefore: UInt64

    public init(_ ids: Set<Int64>, slotsFreedBefore: UInt64) {
        self.ids = ids
        self.slotsFreedBefore = slotsFreedBefore
    }
}

/// Requests waiting for a slot on a busy account (one whose `max_concurrency` is reached). The
/// queue is bounded: past `maxQueued` waiting requests, a new one is refused at once. A freed
/// slot goes to the request that has waited longest for that account.
public final class CapacityQueue: Sendable {
    private let waiters = Mutex(CapacityWaiters<CheckedContinuation<Bool, Never>>())
    private let maxQueued: Int

    public init(maxQueued: Int) { self.maxQueued = maxQueued }

    /// Requests waiting now.
    public var waiting: Int { waiters.withLock { $0.count } }

    /// Slots freed so far: read before looking at the accounts, it goes into `BusyAccounts`.
    public var slotsFreed: UInt64 { waiters.withLock { $0.slotsFreed } }

    /// A slot on `accountID` is free: the longest waiter for it, if any, takes it.
    public func slotFreed(on accountID: Int64) {
        waiters.withLock { $0.slotFreed(on: accountID) }?.resume(returning: true)
    }

    /// Waits until one of the busy accounts frees a slot (or has freed one since the request
    /// looked), at most `timeout`. False when the wait timed out, or the queue was already full.
    public func waitForSlot(on busy: BusyAccounts, timeout: Duration) async -> Bool {
        let id = waiters.withLock { $0.makeID() }
        let signalled = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.queueUp(id, for: busy) }
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
        waiters.withLock { $0.settled(id) }
        return signalled
    }

    private func queueUp(_ id: UInt64, for busy: BusyAccounts) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let action = waiters.withLock {
                    $0.enqueue(.init(id: id, accounts: busy.ids, slotsFreedBefore: busy.slotsFreedBefore, continuation: continuation), limit: maxQueued)
                }
                switch action {
                case .wait: break
                case .refuse(let continuation): continuation.resume(returning: false)
                case .lookAgain(let continuation): continuation.resume(returning: true)
                }
            }
        } onCancel: {
            waiters.withLock { $0.cancel(id) }?.resume(returning: false)
        }
    }
}
