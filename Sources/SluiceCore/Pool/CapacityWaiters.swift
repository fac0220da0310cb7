import Foundation

/// Requests waiting for a busy account, first come first served. A state machine without I/O:
/// the pool keeps it under its lock and resumes the continuations it hands back outside it
/// (`Continuation` is a `CheckedContinuation` there, anything in tests).
///
/// A request sees its accounts busy before it queues, under another lock. A slot freed in
/// between would find no one to wake, so the waiter would sleep to its timeout with the slot
/// idle. Each waiter therefore brings the count of slots freed before it looked (`slotsFreed`),
/// and is sent back to look again at once when one of its accounts freed a slot since.
public struct CapacityWaiters<Continuation> {
    public struct Waiter {
        public var id: UInt64
        /// The busy accounts this request could use; a slot on any of them wakes it.
        public var accounts: Set<Int64>
        /// `slotsFreed` before the request found `accounts` busy.
        public var slotsFreedBefore: UInt64
        public var continuation: Continuation

        public init(id: UInt64, accounts: Set<Int64>, slotsFreedBefore: UInt64, continuation: Continuation) {
            self.id = id
            self.accounts = accounts
            self.slotsFreedBefore = slotsFreedBefore
            self.continuation = continuation
        }
    }

    private var queue: [Waiter] = []
    /// Waiters cancelled before they were queued (the cancellation handler ran first).
    private var cancelledEarly: Set<UInt64> = []
    private var lastID: UInt64 = 0
    /// Slots freed so far, and that count when each account last freed one.
    public private(set) var slotsFreed: UInt64 = 0
    private var lastFreed: [Int64: UInt64] = [:]

    public init() {}

    public var count: Int { queue.count }

    public mutating func makeID() -> UInt64 {
        lastID &+= 1
        return lastID
    }

    public enum EnqueueAction {
        case wait
        /// Resume the continuation with false at once: the queue is full, or the wait was cancelled.
        case refuse(Continuation)
        /// Resume the continuation with true at once: one of its accounts freed a slot after the
        /// request saw it busy, so it looks again instead of waiting.
        case lookAgain(Continuation)
    }

    public mutating func enqueue(_ waiter: Waiter, limit: Int) -> EnqueueAction {
        if cancelledEarly.remove(waiter.id) != nil { return .refuse(waiter.continuation) }
        if waiter.accounts.contains(where: { lastFreed[$0, default: 0] > waiter.slotsFreedBefore }) { return .lookAgain(waiter.continuation) }
        if queue.count >= limit { return .refuse(waiter.continuation) }
        queue.append(waiter)
        return .wait
    }

    /// A slot on `accountID` came free: the first waiter for it, to resume with true.
    public mutating func slotFreed(on accountID: Int64) -> Continuation? {
        slotsFreed += 1
        lastFreed[accountID] = slotsFreed
        guard let index = queue.firstIndex(where: { $0.accounts.contains(accountID) }) else { return nil }
        return queue.remove(at: index).continuation
    }

    /// The wait `id` ended without a slot (timeout or cancellation): its continuation, to resume
    /// with false, unless a slot already woke it.
    public mutating func cancel(_ id: UInt64) -> Continuation? {
        guard let index = queue.firstIndex(where: { $0.id == id }) else {
            cancelledEarly.insert(id)
            return nil
        }
        return queue.remove(at: index).continuation
    }

    /// Forgets an early cancellation that will never be matched by an enqueue.
    public mutating func settled(_ id: UInt64) { cancelledEarly.remove(id) }
}
