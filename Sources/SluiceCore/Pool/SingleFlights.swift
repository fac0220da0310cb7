/// One piece of work per key at a time, such as one token refresh per account, with everyone
/// else who needs it waiting for its result instead of starting their own.
///
/// A state machine without I/O: its owner keeps it under a lock, runs the work when `lead` says
/// so, and resumes the waiters `finish` hands back outside the lock (`Waiter` is a
/// `CheckedContinuation` in the pool, anything in tests).
public struct SingleFlights<Key: Hashable, Waiter> {
    private var running: [Key: [Waiter]] = [:]

    public init() {}

    /// Whether the caller is to run the work for `key`: true when none is running (it now is),
    /// false when another caller runs it, in which case the caller waits with `wait`.
    public mutating func lead(_ key: Key) -> Bool {
        guard running[key] == nil else { return false }
        running[key] = []
        return true
    }

    /// Queues `waiter` for the result of the work running for `key`. When that work has already
    /// finished (between `lead` and `wait`), the waiter comes back to the caller to resume itself.
    public mutating func wait(_ key: Key, _ waiter: Waiter) -> Waiter? {
        guard running[key] != nil else { return waiter }
        running[key]?.append(waiter)
        return nil
    }

    /// Ends the work for `key` and returns its waiters, in the order they came, to be resumed with
    /// its result. The next `lead` starts new work.
    public mutating func finish(_ key: Key) -> [Waiter] {
        running.removeValue(forKey: key) ?? []
    }

    public func isRunning(_ key: Key) -> Bool { running[key] != nil }
}
