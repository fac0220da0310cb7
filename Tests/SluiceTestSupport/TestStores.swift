import Foundation
import Logging
import PostgresNIO
import SluiceRedis
import SluiceStore

/// Where the repository is, so tests use the real migrations.
public enum RepoPaths {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let migrations = root.appendingPathComponent("Migrations").path
    public static let sqliteMigrations = migrations + "/sqlite"
    public static let postgresMigrations = migrations + "/postgres"
}

/// The stores the contract tests run against. PostgreSQL joins when `TEST_POSTGRES_URL`
/// names a server, as `scripts/test` arranges (it starts one on loopback).
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    public static var available: [StoreBackend] {
        TestPostgres.baseURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    /// A new, empty, migrated store: a SQLite file in `directory`, or a new PostgreSQL schema.
    public func open(directory: String) async throws -> any GatewayStore {
        switch self {
        case .sqlite:
            return try await SQLiteStore(
                path: directory + "/db.sqlite", migrations: try MigrationRunner.load(directory: RepoPaths.sqliteMigrations), logger: Logger(label: "test"))
        case .postgres:
            return try await PostgresStore(
                configuration: try PostgresStore.configuration(url: try await TestPostgres.freshSchemaURL()),
                migrations: try MigrationRunner.load(directory: RepoPaths.postgresMigrations), logger: Logger(label: "test"))
        }
    }
}

/// Runs `body` with a new store and closes the store afterwards, whatever `body` does.
public func withStore(_ backend: StoreBackend, _ body: (any GatewayStore) async throws -> Void) async throws {
    let directory = NSTemporaryDirectory() + "sluice-store-test-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try await backend.open(directory: directory)
    do {
        try await body(store)
        await store.close()
    } catch {
        await store.close()
        throw error
    }
}

public enum TestPostgres {
    public static var baseURL: String? {
        ProcessInfo.processInfo.environment["TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "TEST_POSTGRES_URL is not set; scripts/test starts PostgreSQL and sets it" }
    }

    /// The test server's URL with a new schema first on the search path, so every test has
    /// its own empty database without the cost of CREATE DATABASE.
    public static func freshSchemaURL() async throws -> String {
        try await schemaURL(named: "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())
    }

    /// The URL of the schema `name` (letters, digits and underscores), created if missing: a
    /// test that restarts a gateway on the same data names the same schema twice.
    public static func schemaURL(named name: String) async throws -> String {
        guard let base = baseURL else { throw Unavailable() }
        let client = PostgresClient(configuration: try PostgresStore.configuration(url: base))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: name)")
            group.cancelAll()
        }
        let options = "-c search_path=\(name)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return base + (base.contains("?") ? "&" : "?") + "options=" + options
    }

    /// Whether the end-to-end tests run their gateways on PostgreSQL (`TEST_SERVER_STORE=postgres`,
    /// the second pass of `scripts/test`) rather than SQLite.
    public static var serverTestsUsePostgres: Bool {
        ProcessInfo.processInfo.environment["TEST_SERVER_STORE"] == "postgres"
    }
}

public enum TestRedis {
    /// The Redis `scripts/test` starts, or nil when the suite runs without it.
    public static var url: String? {
        ProcessInfo.processInfo.environment["TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A client of `url`, the suite's Redis by default. Its timeout is generous: the whole suite
    /// at once oversubscribes two cores, and a test that is not about timeouts must not fail
    /// because a reply took half a second.
    public static func client(_ url: String? = url, connections: Int = 4, timeout: Duration = .seconds(5)) throws -> RedisClient {
        guard let url else { throw RedisError.unavailable("TEST_REDIS_URL is not set") }
        return RedisClient(
            configuration: .init(endpoint: try RedisEndpoint(url: url), maxConnections: connections, timeout: timeout),
            logger: Logger(label: "test"))
    }
}
