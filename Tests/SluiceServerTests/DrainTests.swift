import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// SIGTERM to a real `sluice serve`: readiness turns 503 while liveness stays 200, a running stream
/// gets `server.drain_seconds`, then ends with an error event and is charged, and the process exits.
@Suite struct DrainTests {
    static func status(_ url: String) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        return (try? await HTTPClient.shared.execute(request, timeout: .seconds(2))).map { Int($0.status.code) }
    }

    @Test func sigtermDrainsThenEndsAStreamAndExits() async throws {
        try await ProcessFixture.with("drain", configuration: { directory in
            """
            server:
              host: 127.0.0.1
              sse_keepalive_seconds: 1
              drain_seconds: 6
              unready_seconds: 5
            database:
              path: "\(directory)/sluice.sqlite"
              migrations_dir: "\(Harness.repoRoot.appendingPathComponent("Migrations").path)"
            providers:
              dir: "\(directory)/providers"
            logging:
              level: info
              format: json
            plans:
            \(ProcessFixture.plansWithoutGrants)
            """
        }) { fixture in
            fixture.control.set(.gated, for: "a")
            // The mock holds the upstream request open until then; released, the mock can stop.
            defer { fixture.control.releaseGate() }
            let user = try await fixture.seed.store.createUser(email: "drain@test", initialCredits: Credits(whole: 10))
            let key = try await APIKeyIssuer.issue(store: fixture.seed.store, userID: user, name: "k").key
            let gateway = try await fixture.start("drain")
            #expect(await Self.status(gateway.baseURL + "/health/ready") == 200)

            var request = HTTPClientRequest(url: gateway.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(key)")
            request.body = .bytes(ByteBuffer(string: Harness.chatBody(stream: true)))
            var reader = EventReader(try await HTTPClient.shared.execute(request, timeout: .seconds(60)))
            _ = try await reader.next()
            _ = try await reader.next()

            let signalled = ContinuousClock.now
            gateway.process.signal(SIGTERM)
            // Within the 5 s the listener stays open; a loaded machine may take seconds to answer.
            try await eventually("readiness turned 503", within: 4) { await Self.status(gateway.baseURL + "/health/ready") == 503 }
            #expect(await Self.status(gateway.baseURL + "/health/live") == 200)
            let rest = try await reader.rest()
            // Not before the grace (6 s from the signal) ran out — a bound a slow machine can only
            // exceed — and with an error in place of the stream's end.
            #expect(ContinuousClock.now - signalled >= .seconds(6))
            #expect(rest.last?.contains("error") == true, "\(rest)")
            #expect(!rest.contains("[DONE]"))
            try await eventually("the process exited", within: 20) { !gateway.process.isRunning }
            let logs = try await fixture.seed.store.usageLogs(userID: user)
            #expect(logs.map(\.endReason) == ["server_shutdown"])
            #expect(logs.first?.charged ?? .zero > .zero, "the output it streamed is charged")

            // `logging.format: json`: every line an object; the stream's access line says how it ended.
            let lines = try String(contentsOfFile: gateway.logPath, encoding: .utf8).split(separator: "\n")
            let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(!lines.isEmpty && objects.count == lines.count, "a line that is not JSON: \(lines.first { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil } ?? "")")
            let access = try #require(objects.first { $0["route"] as? String == "/v1/chat/completions" })
            #expect(access["message"] as? String == "request" && access["level"] as? String == "info")
            #expect(access["end_reason"] as? String == "server_shutdown")
            #expect(access["timestamp"] is String && access["request_id"] is String)
            #expect(!lines.contains { $0.contains(key) }, "the API key reached the log")

        }
    }
}
