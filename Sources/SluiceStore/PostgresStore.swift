import Foundation
import Logging
import PostgresNIO
import SluiceCore
import Synchronization

/// The scale-out store: PostgreSQL through postgres-nio's pooled `PostgresClient`. Several Sluice
/// instances share one database; every read-modify-write below is one statement or one
/// transaction that locks the rows it changes, so instances cannot undo each other's writes.
public final class PostgresStore: GatewayStore {
    let client: PostgresClient
    let logger: Logger
    /// The webhook event types writes put in the outbox (see `WebhookStore`).
    let webhookFilter = WebhookEventFilter()
    /// How long a query waits for a pooled connection: the URL's `connect_timeout`. postgres-nio's
    /// pool keeps a request waiting while it retries a server that refuses connections (up to a
    /// minute, until its circuit breaker opens), and a gateway must answer a 503 well before that.
    let connectionWait: Duration
    /// Runs `client.run()`, which the pool needs before it lends a connection. It is started
    /// here rather than in a ServiceGroup because the CLI and `openGateway` use the store before
    /// any service runs. `close()` cancels it and awaits it: `StoreService` calls `close()` at
    /// shutdown, and CLI commands call it when they are done.
    private let clientRun: Task<Void, Never>

    /// Connects, and applies pending migrations from `Migrations/postgres`.
    public init(configuration: PostgresClient.Configuration, migrations: MigrationRunner, logger: Logger) async throws {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        connectionWait = configuration.options.connectTimeout
        // Unstructured on purpose: migrations below, CLI commands and `openGateway` query the store
        // before any service group runs, and the pool lends no connection until `run()` does.
        // `StoreService` calls `close()` at shutdown, after every other service has stopped.
        clientRun = Task { await client.run() }  // awaited by `close()`
        do {
            try await migrations.apply(to: client, logger: logger)
        } catch {
            await close()
            throw error
        }
    }

    public func close() async {
        clientRun.cancel()
        await clientRun.value
    }

    public func ping() async throws {
        try await execute("SELECT 1")
    }
}

// MARK: Queries

/// What runs a query: the client (a pooled connection per query) or one connection inside a
/// transaction.
protocol PostgresQueryRunner {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence
}

extension PostgresClient: PostgresQueryRunner {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence { try await self.query(query, logger: logger) }
}

extension PostgresConnection: PostgresQueryRunner {
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence { try await self.query(query, logger: logger) }
}

extension PostgresQueryRunner {
    func all(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await rows(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    func first(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRandomAccessRow? {
        try await all(query, logger: logger).first
    }

    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await rows(query, logger: logger).collect()
    }

    /// The row an `INSERT … RETURNING` wrote; a statement that returns none is an error.
    func inserted(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRandomAccessRow {
        guard let row = try await first(query, logger: logger) else { throw StoreDecodingError(column: "RETURNING") }
        return row
    }
}

extension PostgresStore {
    func all(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] { try await leased { try await $0.all(query, logger: self.logger) } }
    func first(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? { try await all(query).first }
    func execute(_ query: PostgresQuery) async throws { _ = try await all(query) }
    func inserted(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow {
        try await leased { try await $0.inserted(query, logger: self.logger) }
    }

    /// Runs `body` in a transaction on one pooled connection: committed when it returns,
    /// rolled back when it throws, and the error comes out as itself, so callers can tell a
    /// conflict from a failure.
    func transaction<Result: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        // `leased` awaits its task group to the end, so `body` does not outlive this call.
        try await withoutActuallyEscaping(body) { body in
            try await leased { connection in try await connection.inTransaction(logger: self.logger, body) }
        }
    }

    /// Runs `body` on a pooled connection, or throws `StoreUnavailable` when none is lent within
    /// `connectionWait`. Only the wait is bounded: once `body` has its connection it runs to the end.
    func leased<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let lent = LentFlag()
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    lent.set()
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: self.connectionWait)
                if lent.isSet { return nil }
                throw StoreUnavailable(waited: self.connectionWait)
            }
            while let result = try await group.next() {
                if let result {
                    group.cancelAll()
                    return result
                }
            }
            throw CancellationError()
        }
    }
}

/// The database did not lend a connection in time: it is down or out of connections.
public struct StoreUnavailable: Error, CustomStringConvertible {
    public var waited: Duration
    public var description: String { "no database connection within \(waited)" }
}

/// Set once a connection is lent, read by the timer that would otherwise give up.
private final class LentFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

extension PostgresConnection {
    func inTransaction<Result: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await query("BEGIN", logger: logger)
        do {
            let result = try await body(self)
            try await query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await query("ROLLBACK", logger: logger)
            throw error
        }
    }
}

/// PostgreSQL's code for a unique constraint that a write would break.
func isUniqueViolation(_ error: any Error) -> Bool {
    (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
}

/// A statement with a `WHERE` clause that grows by optional filters: each `bind` adds `$n`.
struct PostgresQueryBuilder {
    private(set) var sql: String
    private var binds = PostgresBindings()

    init(_ sql: String) { self.sql = sql }

    mutating func append(_ fragment: String) { sql += fragment }

    mutating func bind(_ value: some PostgresDynamicTypeEncodable) {
        binds.append(value, context: .default)
        sql += "$\(binds.count)"
    }

    /// ` AND column = $n` when `value` is present.
    mutating func filter(_ column: String, _ value: (some PostgresDynamicTypeEncodable)?) {
        guard let value else { return }
        append(" AND \(column) = ")
        bind(value)
    }

    /// `created_at` from (inclusive) and to (exclusive), as `SQLiteStore.timeRange` has it.
    mutating func timeRange(from: Date?, to: Date?) {
        if let from { append(" AND created_at >= "); bind(from.unixMillis) }
        if let to { append(" AND created_at < "); bind(to.unixMillis) }
    }

    /// A cursor, then newest first with limit and offset, as `SQLiteStore.paging` has it.
    mutating func page(_ page: PageRequest) {
        if let before = page.beforeID { append(" AND id < "); bind(before) }
        append(" ORDER BY id DESC LIMIT "); bind(page.limit)
        append(" OFFSET "); bind(page.offset)
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
