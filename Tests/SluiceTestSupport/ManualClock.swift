import Foundation
import SluiceCore
import Synchronization

/// A clock that stands still until a test moves it, so rules about time run in microseconds.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0.addTimeInterval(seconds) } }
}
