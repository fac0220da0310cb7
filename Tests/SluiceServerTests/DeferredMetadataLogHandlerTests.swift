import Logging
import SluiceServer
import Synchronization
import Testing

/// The gateway's log handler defers formatting; what it writes must be what StreamLogHandler writes.
@Suite struct DeferredMetadataLogHandlerTests {
    final class Lines: TextOutputStream, Sendable {
        let written = Mutex<[String]>([])
        func write(_ string: String) { written.withLock { $0.append(string) } }
    }

    /// Logs the same things through a logger, and returns the line without its timestamp.
    static func line(_ makeHandler: (StreamLogHandler) -> any LogHandler) -> String {
        let lines = Lines()
        var stream = StreamLogHandler(label: "sluice.test", stream: lines, metadataProvider: nil)
        stream.logLevel = .debug
        var logger = Logger(label: "sluice.test", factory: { _ in makeHandler(stream) })
        logger[metadataKey: "component"] = "chat"
        logger[metadataKey: "hb.request.id"] = "r-1"
        logger[metadataKey: "component"] = "pool"
        logger.info("account cooled down", metadata: ["account": "7", "hb.request.id": "r-2"])
        logger.trace("below the level")
        let written = lines.written.withLock { $0 }
        guard written.count == 1, let line = written.first, let space = line.firstIndex(of: " ") else { return "wrote \(written)" }
        return String(line[space...])
    }

    @Test func writesTheLinesStreamLogHandlerWrites() {
        let deferred = Self.line { DeferredMetadataLogHandler($0) }
        let eager = Self.line { $0 }
        #expect(deferred == eager)
        #expect(deferred.contains("account=7 component=pool hb.request.id=r-2 [SluiceServerTests] account cooled down"))
    }
}
