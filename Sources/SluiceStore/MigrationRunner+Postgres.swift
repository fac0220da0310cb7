import Foundation
import Logging
import PostgresNIO

extension MigrationRunner {
    /// An arbitrary constant: the advisory lock that makes instances starting together apply
    /// migrations one after another.
    private static let postgresLockID: Int64 = 0x5_1c3_0001

    /// Applies what is missing to a PostgreSQL database and returns the versions it applied. Each
    /// migration runs in its own transaction under an advisory lock, so two instances starting at
    /// once apply each migration once; a failing migration leaves no trace.
    @discardableResult
    public func apply(to client: PostgresClient, logger: Logger) async throws -> [Int] {
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await client.withConnection { connection in
                try await Self.applyOnce(migration, on: connection, logger: logger)
            }
            if didApply {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    private static func applyOnce(_ migration: Migration, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.inTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(postgresLockID))", logger: logger)
            // Under the lock: two instances creating it at once would collide in the catalog.
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
                """, logger: logger)
            let done = try await connection.query(
                "SELECT 1 FROM schema_migrations WHERE version = \(Int64(migration.version))", logger: logger
            ).collect()
            guard done.isEmpty else { return false }
            // postgres-nio speaks the extended protocol, which takes one statement at a time.
            for statement in SQLStatements.split(migration.sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query(
                """
                INSERT INTO schema_migrations (version, name, applied_at)
                VALUES (\(Int64(migration.version)), \(migration.name), \(Date().unixMillis))
                """, logger: logger)
            return true
        }
    }
}

/// Splits a migration file into statements at each `;` that is outside a quoted string, a
/// quoted name, a `--` comment and a `$$` body.
enum SQLStatements {
    static func split(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var quote: Character?
        var inComment = false
        var inDollarBody = false
        var previous: Character = " "
        for character in sql {
            defer { previous = character }
            if inComment {
                if character == "\n" { inComment = false }
                continue
            }
            if let open = quote {
                current.append(character)
                if character == open { quote = nil }
                continue
            }
            if character == "$" && previous == "$" { inDollarBody.toggle() }
            if inDollarBody { current.append(character); continue }
            switch character {
            case "-" where previous == "-":
                current.removeLast()
                inComment = true
            case "'", "\"":
                quote = character
                current.append(character)
            case ";":
                appendStatement(current, to: &statements)
                current = ""
            default:
                current.append(character)
            }
        }
        appendStatement(current, to: &statements)
        return statements
    }

    private static func appendStatement(_ text: String, to statements: inout [String]) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { statements.append(trimmed) }
    }
}
