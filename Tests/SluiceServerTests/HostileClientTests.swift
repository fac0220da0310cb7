import Foundation
import SluiceServer
import SluiceTestSupport
import Testing

/// Clients that hold connections without finishing a request, or send what no client should,
/// get a clean answer or a closed connection, and cannot take the server down (issue 33).
@Suite struct HostileClientTests {
    static func hardened(_ config: inout SluiceConfig) {
        config.server.idleTimeoutSeconds = 1
        config.server.requestReadSeconds = 1
        config.server.maxHeaderBytes = 2048
    }

    /// Half a request head, then silence: closed once the idle timeout passes.
    @Test func aSlowHeaderIsCutOff() async throws {
        try await Harness.run(configure: Self.hardened) { h in
            let connection = try RawConnection(port: h.port)
            connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\n")
            #expect(await connection.receive(waiting: 5) == .closed(""))
            #expect(try await h.request("/health", method: .GET, key: nil).status == 200)
        }
    }

    /// A body trickled a byte at a time, each soon enough to keep the connection from idling:
    /// closed once the request has taken longer than `server.request_read_seconds`.
    @Test func aTrickledBodyIsCutOff() async throws {
        try await Harness.run(configure: Self.hardened) { h in
            let user = try await h.user()
            let connection = try RawConnection(port: h.port)
            connection.send(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer \(user.key)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
            var outcome = RawConnection.Received.open("")
            for _ in 0..<20 {
                connection.send(" ")
                outcome = await connection.receive(waiting: 0.4)
                if case .closed = outcome { break }
            }
            #expect(outcome == .closed(""), "the connection outlived the request read limit")
        }
    }

    /// Headers past `server.max_header_bytes` close the connection without a request being served.
    @Test func oversizedHeadersCloseTheConnection() async throws {
        try await Harness.run(configure: Self.hardened) { h in
            let connection = try RawConnection(port: h.port)
            connection.send("GET /health HTTP/1.1\r\nHost: sluice\r\nX-Flood: \(String(repeating: "a", count: 4096))\r\n\r\n")
            guard case .closed(let text) = await connection.receive(waiting: 5) else {
                Issue.record("the connection stayed open")
                return
            }
            #expect(!text.contains("200 OK"))
            #expect(try await h.request("/health", method: .GET, key: nil).status == 200)
        }
    }

    /// Past `server.max_connections`, a new connection waits in the listen backlog instead of
    /// taking a descriptor and memory; it is served once another closes.
    @Test func connectionsPastTheCapWaitForOneToClose() async throws {
        try await Harness.run(configure: { $0.server.maxConnections = 2 }) { h in
            let first = try RawConnection(port: h.port)
            let second = try RawConnection(port: h.port)
            for connection in [first, second] {
                connection.send("GET /health HTTP/1.1\r\nHost: sluice\r\n\r\n")
                let answer = await connection.receive(waiting: 15, until: "200 OK")
                guard case .open(let answered) = answer, answered.contains("200 OK") else {
                    Issue.record("a connection within the cap was not served: \(answer)")
                    return
                }
            }
            let third = try RawConnection(port: h.port)
            third.send("GET /health HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n\r\n")
            #expect(await third.receive(waiting: 1) == .open(""), "a third connection was served past the cap")
            first.close()
            let late = await third.receive(waiting: 5)
            guard case .closed(let text) = late else {
                Issue.record("the waiting connection was never served: \(late)")
                return
            }
            #expect(text.contains("200 OK"))
        }
    }
}
