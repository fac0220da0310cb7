import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing

/// An OTLP/HTTP trace receiver on loopback, as a collector is: it takes `POST /v1/traces` in the
/// JSON encoding and keeps every span it was sent.
final class OTLPReceiver: Sendable {
    struct Span: Sendable {
        var name: String
        var traceID: String
        var spanID: String
        var parentSpanID: String
        /// OTLP's `SpanKind`: 2 server, 3 client.
        var kind: Int
        /// OTLP's `StatusCode`: 0 unset, 1 ok, 2 error.
        var statusCode: Int
        var attributes: [String: String]
        var service: String
    }

    private struct State {
        var spans: [Span] = []
        var exports = 0
        var url = ""
    }

    private let state = Mutex(State())
    var url: String { state.withLock { $0.url } }
    var spans: [Span] { state.withLock { $0.spans } }
    var exports: Int { state.withLock { $0.exports } }

    static func run(_ body: (OTLPReceiver) async throws -> Void) async throws {
        let receiver = OTLPReceiver()
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        router.post("/v1/traces") { request, _ in try await receiver.receive(request) }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "collector"),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) },
            logger: Logger(label: "collector", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            receiver.state.withLock { $0.url = "http://127.0.0.1:\(port)/v1/traces" }
            let outcome = await Result { try await body(receiver) }
            group.cancelAll()
            try outcome.get()
        }
    }

    private func receive(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
        var received: [Span] = []
        for resource in json["resourceSpans"] as? [[String: Any]] ?? [] {
            let resourceAttributes = Self.attributes((resource["resource"] as? [String: Any])?["attributes"])
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    received.append(Span(
                        name: span["name"] as? String ?? "", traceID: Self.hex(span["traceId"]), spanID: Self.hex(span["spanId"]),
                        parentSpanID: Self.hex(span["parentSpanId"]), kind: span["kind"] as? Int ?? 0,
                        statusCode: (span["status"] as? [String: Any])?["code"] as? Int ?? 0,
                        attributes: Self.attributes(span["attributes"]), service: resourceAttributes["service.name"] ?? ""))
                }
            }
        }
        state.withLock {
            $0.exports += 1
            $0.spans += received
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: "{}")))
    }

    /// Every attribute's value as text, whatever its type.
    private static func attributes(_ raw: Any?) -> [String: String] {
        var found: [String: String] = [:]
        for attribute in raw as? [[String: Any]] ?? [] {
            guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any], let first = value.first else { continue }
            found[key] = "\(first.value)"
        }
        return found
    }

    /// A trace or span id in hex. OTLP's JSON writes ids as hex; the protobuf JSON mapping as
    /// base64. Either is read.
    private static func hex(_ raw: Any?) -> String {
        guard let text = raw as? String, !text.isEmpty else { return "" }
        if [16, 32].contains(text.count), text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let bytes = Data(base64Encoded: text) else { return text }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
