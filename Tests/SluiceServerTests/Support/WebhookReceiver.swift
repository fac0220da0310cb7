import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// A webhook receiver on loopback: it records every delivery, and can fail the first ones or hang.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var signature: String
        var event: String
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    }

    struct State {
        var accepted: [Delivery] = []
        var attempts = 0
        var failFirst = 0
        var hanging = false
        var url = ""
    }

    private let state = Mutex(State())
    var url: String { state.withLock { $0.url } }

    var accepted: [Delivery] { state.withLock { $0.accepted } }
    var attempts: Int { state.withLock { $0.attempts } }

    /// The next `count` deliveries get a 503.
    func fail(next count: Int) { state.withLock { $0.failFirst = count } }
    /// Deliveries wait without an answer until this is turned off.
    func hang(_ on: Bool) { state.withLock { $0.hanging = on } }

    /// Runs `body` with a receiver listening.
    static func run(_ body: (WebhookReceiver) async throws -> Void) async throws {
        let receiver = WebhookReceiver()
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        router.post("/hook") { request, _ in try await receiver.receive(request) }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "receiver"),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) },
            logger: Logger(label: "receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            receiver.state.withLock { $0.url = "http://127.0.0.1:\(port)/hook" }
            let outcome = await Result { try await body(receiver) }
            receiver.hang(false)
            group.cancelAll()
            try outcome.get()
        }
    }

    private func receive(_ request: Request) async throws -> Response {
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
        let delivery = Delivery(
            signature: request.headers[HTTPField.Name("Sluice-Signature")!] ?? "", event: request.headers[HTTPField.Name("Sluice-Event")!] ?? "",
            body: body)
        enum Answer { case fail, hang, ok }
        let answer: Answer = state.withLock { state in
            state.attempts += 1
            if state.hanging { return .hang }
            if state.failFirst > 0 {
                state.failFirst -= 1
                return .fail
            }
            state.accepted.append(delivery)
            return .ok
        }
        switch answer {
        case .hang:
            while state.withLock({ $0.hanging }) { try await Task.sleep(for: .milliseconds(50)) }
            return Response(status: .serviceUnavailable)
        case .fail: return Response(status: .serviceUnavailable)
        case .ok: return Response(status: .ok)
        }
    }

    /// Whether `delivery` carries a v1 signature of its body under `secret`, made within five minutes.
    static func isSigned(_ delivery: Delivery, secret: String) -> Bool {
        let parts = Dictionary(delivery.signature.split(separator: ",").compactMap { part -> (String, String)? in
            let pair = part.split(separator: "=", maxSplits: 1)
            return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
        }, uniquingKeysWith: { first, _ in first })
        guard let t = parts["t"], let stamp = TimeInterval(t), abs(Date().timeIntervalSince1970 - stamp) < 300, let v1 = parts["v1"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(t).\(delivery.body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == v1
    }
}
