import Foundation
import SluiceCore
import Synchronization

/// A clock that stands still until a test moves it, so rules about time run in microseconds. A
/// rule that sleeps on it moves it on by the time it sleeps, and goes on at once.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0.addTimeInterval(seconds) } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let (seconds, attoseconds) = duration.components
        advance(by: Double(seconds) + Double(attoseconds) / 1e18)
    }
}
