import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceServer
import SluiceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// moto's server mode (`moto.server`, installed by `scripts/setup-deps`) on a loopback port: an
/// S3-compatible store that keeps its buckets in memory and does not check signatures, so a test
/// can also look at a bucket with a plain unsigned GET.
final class S3Server: Sendable {
    static let bucket = "sluice-test"

    let port: Int
    let directory: String
    private let process: ChildProcess

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// The test process starts children with its signal mask, which blocks SIGTERM: moto's own
    /// SIGTERM handler (sys.exit) would never run. So the mask is lifted before moto starts.
    private static let launcher = """
        import signal, sys
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
        from moto.server import main
        main(sys.argv[1:])
        """

    /// Starts moto on a free port and waits (up to 30 s) until it answers HTTP.
    init() async throws {
        let directory = NSTemporaryDirectory() + "moto-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        port = try GatewayProcess.freePort()
        process = try ChildProcess(
            "/usr/bin/env", ["python3", "-c", Self.launcher, "-p", String(port), "-H", "127.0.0.1"], output: directory + "/moto.log")
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if await answers() { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: directory + "/moto.log", encoding: .utf8)) ?? ""
        stop()
        throw StartupError(
            "moto did not answer on port \(port) (is moto[server] installed? scripts/setup-deps installs it):\n\(log.suffix(2000))")
    }

    deinit { stop() }

    /// SIGTERM, and SIGKILL if moto has not ended 5 s later; then its directory (the log) goes.
    func stop() {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { process.signal(SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func answers() async -> Bool {
        var request = HTTPClientRequest(url: endpoint + "/")
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return true
    }

    struct Object: Equatable {
        var key: String
        var size: Int
        /// S3's ETag without its quotes: the MD5 of the bytes, for an object put in one request.
        var etag: String
    }

    /// The bucket's objects, from an unsigned `ListObjectsV2` (moto does not check signatures).
    func objects(in bucket: String = S3Server.bucket) async throws -> [Object] {
        var request = HTTPClientRequest(url: endpoint + "/\(bucket)?list-type=2")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 16 << 20))
        try #require(response.status.code == 200, "moto's ListObjectsV2 answered \(response.status): \(body)")
        func value(_ tag: String, in text: Substring) -> String? {
            guard let start = text.range(of: "<\(tag)>"), let end = text.range(of: "</\(tag)>", range: start.upperBound..<text.endIndex) else { return nil }
            return String(text[start.upperBound..<end.lowerBound])
        }
        return body.components(separatedBy: "<Contents>").dropFirst().map { part in
            let contents = Substring(part)
            let etag = value("ETag", in: contents)?.replacingOccurrences(of: "&#34;", with: "").replacingOccurrences(of: "&quot;", with: "")
                .replacingOccurrences(of: "\"", with: "")
            return Object(key: value("Key", in: contents) ?? "", size: Int(value("Size", in: contents) ?? "") ?? -1, etag: etag ?? "")
        }
    }

    /// The gateway's settings for keeping users' files here, in a bucket it makes at start.
    func configure(_ config: inout SluiceConfig, bucket: String = S3Server.bucket) {
        config.files.storage = .s3
        config.files.s3.endpoint = endpoint
        config.files.s3.bucket = bucket
        config.files.s3.region = "us-east-1"
        config.files.s3.accessKeyID = "testing"
        config.files.s3.secretAccessKey = "testing"
        config.files.s3.createBucket = true
    }
}
