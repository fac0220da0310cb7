import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceServer
import SluiceTestSupport
import Testing

/// A `sluice serve` child process, for tests that need several real instances.
final class GatewayProcess {
    let port: Int
    let process: ChildProcess
    let logPath: String

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The `sluice` executable the test bundle was built with.
    static var executable: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("sluice")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return Harness.repoRoot.appendingPathComponent(".build/debug/sluice")
    }

    /// Starts `sluice serve --config configPath --port port` and waits until `/health` answers 200.
    init(configPath: String, port: Int, environment: [String: String], logPath: String) async throws {
        self.port = port
        self.logPath = logPath
        process = try ChildProcess(
            Self.executable.path, ["serve", "--config", configPath, "--port", String(port)],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLUICE_") }.merging(environment) { $1 },
            output: logPath)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if process.isRunning == false { break }
            var request = HTTPClientRequest(url: baseURL + "/health")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.signal(SIGKILL)
        process.waitUntilExit()
        throw StartupError("sluice on port \(port) did not become healthy; its log: \(logPath)")
    }

    /// SIGTERM, the way an operator stops it: settles drain before it exits. Polled, not waited
    /// on: a blocking wait would hold one of the cooperative pool's two threads, and with two
    /// such waits every gateway of the suite would stall. One that does not stop within
    /// `limit` is killed, and that is an issue of the test.
    func stop(within limit: Duration = .seconds(20)) async {
        process.signal(SIGTERM)
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                Issue.record("sluice on port \(port) did not stop on SIGTERM within \(limit); the end of its log:\n\(log.suffix(3000))")
                process.signal(SIGKILL)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
    }

    /// SIGKILL, the way a crash or the OOM killer stops it: nothing drains.
    func kill() {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    /// A port nothing listens on, for a server a test starts (and may stop and start again on it).
    /// It is drawn below the kernel's ephemeral range (32768-60999), not from it: the suite's own
    /// outgoing connections take ephemeral ports, and one once took a PostgreSQL's port between
    /// its stop and its start again.
    static func freePort() throws -> Int {
        for _ in 0..<500 {
            let port = Int.random(in: 20_000..<32_000)
            if canListen(on: port) { return port }
        }
        throw StartupError("no free port")
    }

    private static func canListen(on port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
