import Logging

/// swift-log's `StreamLogHandler`, with a logger's metadata formatted when a line is written rather
/// than whenever a key is set.
///
/// `StreamLogHandler` formats all its metadata on every set, so that each line it writes is cheap.
/// Hummingbird sets a request id on every request's logger, and almost none of those loggers ever
/// write a line: at 5,000 chat requests/s that eager formatting was about 3 % of the gateway's
/// CPU (`perf`, docs/benchmarks.md). The lines themselves are unchanged.
public struct DeferredMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    public init(_ stream: StreamLogHandler) { self.stream = stream }

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            // The line's own metadata wins over the logger's, as in StreamLogHandler.
            event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        }
        stream.log(event: event)
    }
}
