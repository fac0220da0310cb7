import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore
import Synchronization
import Testing

/// Helpers for `/api` tests: signing up, signing in, and an admin.
extension Harness {
    struct Session {
        var userID: Int64
        var access: String
        var refresh: String
    }

    static let password = "correct horse battery"

    /// Registers through the API and signs in.
    func signUp(_ email: String = "p\(UUID().uuidString.prefix(8))@test.dev", password: String = Harness.password) async throws -> Session {
        let registered = try await request("/api/auth/register", body: #"{"email":"\#(email)","password":"\#(password)"}"#, key: nil)
        try #require(registered.status == 201, "register: \(String(decoding: registered.body, as: UTF8.self))")
        return try await signIn(email, password: password)
    }

    func signIn(_ email: String, password: String = Harness.password) async throws -> Session {
        let reply = try await request("/api/auth/login", body: #"{"email":"\#(email)","password":"\#(password)"}"#, key: nil)
        try #require(reply.status == 200, "login: \(String(decoding: reply.body, as: UTF8.self))")
        let json = try #require(reply.json)
        let user = try #require(json["user"] as? [String: Any])
        return Session(
            userID: try #require((user["id"] as? NSNumber)?.int64Value), access: try #require(json["access_token"] as? String),
            refresh: try #require(json["refresh_token"] as? String))
    }

    /// Credits for a user made through the API (they start with none in tests).
    func fund(_ session: Session, _ credits: Credits = Credits(whole: 10)) async throws {
        _ = try await gateway.store.credit(userID: session.userID, amount: credits, kind: .grant, referenceID: "fund-\(UUID())", note: nil)
        await gateway.credits.invalidate(userID: session.userID)
    }

    /// An admin made the way operators make the first one: straight in the store, as the CLI does.
    func signInAdmin() async throws -> Session {
        let email = "admin\(UUID().uuidString.prefix(8))@test.dev"
        let hash = try await PasswordHasher(cost: config.auth.bcryptCost).hash(Self.password)
        _ = try await gateway.store.createUser(NewUser(email: email, passwordHash: hash, role: .admin))
        return try await signIn(email)
    }

    func api(_ path: String, method: NIOHTTP1.HTTPMethod = .GET, body: String? = nil, as session: Session?, headers: [(String, String)] = []) async throws -> Reply {
        try await request(path, method: method, body: body, key: session?.access, headers: headers)
    }
}

import NIOHTTP1

extension Harness.Reply {
    var text: String { String(decoding: body, as: UTF8.self) }
    var list: [[String: Any]] { json?["data"] as? [[String: Any]] ?? [] }
    var errorCode: String? { error?["code"] as? String }

    /// Decodes the body with `/api`'s conventions. Credits need this: JSONSerialization reads
    /// numbers as doubles, JSONDecoder reads a Decimal digit for digit.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: body)
    }
}

/// Keeps every log line of a gateway, for tests that check what reaches the logs.
final class LogCapture: Sendable {
    private let lines = Mutex([String]())
    let logLevel: Logger.Level

    init(level: Logger.Level) { logLevel = level }

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    var count: Int { lines.withLock { $0.count } }

    /// A value-type handler, as swift-log expects: each logger's metadata is its own.
    struct Handler: LogHandler {
        let sink: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(event.level) \(event.message) \(all)")
        }
    }
}
