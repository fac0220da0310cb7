import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceMockUpstream
import SluiceTestSupport
import Testing

/// Long silences and long streams (issue 33): a silent upstream keeps the client's stream alive
/// with SSE comments, and a stream past its limits is ended and still charged.
@Suite struct StreamLimitTests {
    /// While the upstream thinks in silence, the client gets `: keepalive` comments; the answer
    /// then completes as usual.
    @Test func aSilentUpstreamGetsKeepaliveCommentsToTheClient() async throws {
        try await Harness.run(configure: { $0.server.sseKeepaliveSeconds = 1 }) { h in
            let user = try await h.user()
            try await h.account(secret: "thinker")
            h.control.set(.gated, for: "thinker")
            let response = try await h.openStream(user.key)
            #expect(response.status == .ok)
            var text = ""
            var body = response.body.makeAsyncIterator()
            while !text.contains(": keepalive\n\n") {
                guard let chunk = try await body.next() else { break }
                text += String(buffer: chunk)
            }
            #expect(text.contains(": keepalive\n\n"), "no keepalive reached the client: \(text)")
            h.control.releaseGate()
            while let chunk = try await body.next() { text += String(buffer: chunk) }
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            await h.settled()
            let row = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(row.endReason == "completed")
        }
    }

    /// A stream past `server.max_stream_bytes` ends with the protocol's error event; what it
    /// delivered is charged by the charging rule, and the row says why it ended.
    @Test func aStreamPastItsByteLimitIsEndedAndCharged() async throws {
        try await Harness.run(configure: { $0.server.maxStreamBytes = 4096 }) { h in
            let user = try await h.user()
            try await h.account(secret: "endless")
            h.control.set(.endless(intervalMillis: 5), for: "endless")
            let (response, events) = try await h.streamEvents(user.key)
            #expect(response.status == .ok)
            #expect(events.last?.contains("\"error\"") == true, "\(events.suffix(2))")
            #expect(!events.contains("[DONE]"))
            await h.settled()
            let row = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(row.endReason == "stream_limit")
            #expect(row.charged > .zero && row.costEstimated)
        }
    }

    /// The same for `server.max_stream_seconds`.
    @Test func aStreamPastItsTimeLimitIsEnded() async throws {
        try await Harness.run(configure: { $0.server.maxStreamSeconds = 1 }) { h in
            let user = try await h.user()
            try await h.account(secret: "endless")
            h.control.set(.endless(intervalMillis: 20), for: "endless")
            let (_, events) = try await h.streamEvents(user.key)
            #expect(events.last?.contains("\"error\"") == true)
            await h.settled()
            #expect(try await h.gateway.store.usageLogs(userID: user.id).first?.endReason == "stream_limit")
        }
    }

    /// A client that stops reading holds bounded memory: the relay writes each read before it
    /// takes the next, so the upstream is held back as soon as the socket buffers between them
    /// fill, instead of the gateway buffering the flood.
    @Test func aClientThatStopsReadingHoldsTheUpstreamBack() async throws {
        try await Harness.run(configure: { $0.server.maxStreamBytes = 0 }) { h in
            let user = try await h.user()
            try await h.account(secret: "flood")
            h.control.set(.flood(chunkBytes: 16 << 10), for: "flood")
            let connection = try RawConnection(port: h.port, receiveBuffer: 4096)
            let body = Harness.chatBody(stream: true)
            connection.send(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer \(user.key)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            // Never read: wait until the upstream makes no more progress.
            var last = -1
            var stalled = false
            for _ in 0..<40 where !stalled {
                try await Task.sleep(for: .milliseconds(500))
                let now = h.control.floodedBytes
                stalled = now > 0 && now == last
                last = now
            }
            #expect(stalled, "the upstream kept streaming to a client that reads nothing (\(last) bytes)")
            // What sits in between is the socket buffers' few megabytes, not the stream.
            #expect(last < 64 << 20, "\(last) bytes went out before the upstream was held back")
            connection.close()
        }
    }
}
