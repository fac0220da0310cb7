import Foundation

extension SluiceConfig {
    /// Traces over OTLP/HTTP: a span per request and per upstream attempt. Off by default; when
    /// off no tracer exists and a request pays one nil check.
    public struct Tracing: Sendable {
        public var enabled = false
        /// The collector's traces URL, used as given (for a collector on its default port,
        /// `http://127.0.0.1:4318/v1/traces`).
        public var endpoint = "http://127.0.0.1:4318/v1/traces"
        /// `http/protobuf` (what collectors expect by default) or `http/json`.
        public var `protocol` = "http/protobuf"
        public var serviceName = "sluice"
        /// The share of requests traced, from 0 to 1; a request that arrives with a sampled
        /// `traceparent` follows its caller's choice.
        public var sampleRatio = 1.0
        /// Spans are sent in batches at most this long after they end.
        public var exportDelayMillis = 5000
        /// How long a batch may take to reach the collector before it is dropped.
        public var exportTimeoutMillis = 10_000
        /// Spans waiting past this many are dropped rather than held: a collector that is down
        /// costs memory up to here and never a request.
        public var maxQueuedSpans = 2048
    }
}
