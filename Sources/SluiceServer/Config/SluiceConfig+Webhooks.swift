import Foundation

extension SluiceConfig {
    /// Outbound webhooks: how often the dispatcher looks, and how it retries.
    public struct Webhooks: Sendable {
        public var pollMillis = 1000
        /// The first retry waits this long; each next one twice as long, up to `retryMaxSeconds`.
        public var retryBaseMillis = 10_000
        public var retryMaxSeconds = 3600
        /// A delivery still failing this long after its event is given up (and can be replayed).
        public var giveUpHours = 24
        public var timeoutSeconds = 10
    }
}
