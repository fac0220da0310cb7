import ArgumentParser
import Foundation
import Hummingbird
import SluiceMockUpstream

/// `sluice mock-upstream`: the demo upstream on its own, so a benchmark can run it in a separate
/// process (pinned to its own core) and point a real gateway at it.
struct MockUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-upstream",
        abstract: "Run the demo upstream (not a real model) alone, for benchmarks and trials.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one.") var port = 0
    @Option(help: "Stream without end, one chunk every N milliseconds, until the caller leaves (0: answer at once).")
    var streamIntervalMillis = 0

    func run() async throws {
        guard streamIntervalMillis >= 0 else { throw ValidationError("--stream-interval-millis must be >= 0") }
        let control = MockControl(recordRequests: false)
        if streamIntervalMillis > 0 { control.setDefault(.endless(intervalMillis: streamIntervalMillis)) }
        let app = MockUpstream.application(host: host, port: port, control: control) { port in
            FileHandle.standardOutput.write(Data("Mock upstream: http://\(host):\(port)/v1\n".utf8))
        }
        try await app.runService()
    }
}
