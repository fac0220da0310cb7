import Foundation
import Logging
import PostgresNIO
import SluiceTestSupport
import Testing
@testable import SluiceStore

@Suite struct PostgresMigrationTests {
    @Test func statementsSplitOutsideQuotesCommentsAndBodies() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x TEXT DEFAULT 'a;b');  -- trailing; comment
            CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            INSERT INTO "odd;name" VALUES (1)
            """
        #expect(SQLStatements.split(sql) == [
            "CREATE TABLE a (x TEXT DEFAULT 'a;b')",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            "INSERT INTO \"odd;name\" VALUES (1)",
        ])
    }

    /// Instances that start together on one new database apply each migration once.
    @Test(.enabled(if: TestPostgres.baseURL != nil)) func racingInstancesApplyEachMigrationOnce() async throws {
        let configuration = try PostgresStore.configuration(url: try await TestPostgres.freshSchemaURL())
        let runner = try MigrationRunner.load(directory: RepoPaths.postgresMigrations)
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<3 { group.addTask { try await PostgresStore(configuration: configuration, migrations: runner, logger: Logger(label: "test")) } }
            return try await group.reduce(into: [PostgresStore]()) { $0.append($1) }
        }
        let versions = try await stores[0].all("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int(required: "version") }
        #expect(versions == runner.migrations.map { Int64($0.version) })
        #expect(try await runner.apply(to: stores[0].client, logger: Logger(label: "test")).isEmpty)
        for store in stores { await store.close() }
    }

    @Test(.enabled(if: TestPostgres.baseURL != nil)) func aFailingMigrationLeavesNoTrace() async throws {
        let configuration = try PostgresStore.configuration(url: try await TestPostgres.freshSchemaURL())
        let runner = MigrationRunner(migrations: [
            .init(version: 1, name: "ok", sql: "CREATE TABLE a (x BIGINT);"),
            .init(version: 2, name: "broken", sql: "CREATE TABLE b (x BIGINT); INSERT INTO nowhere VALUES (1);"),
        ])
        await #expect(throws: (any Error).self) {
            try await PostgresStore(configuration: configuration, migrations: runner, logger: Logger(label: "test"))
        }
        let store = try await PostgresStore(configuration: configuration, migrations: MigrationRunner(migrations: []), logger: Logger(label: "test"))
        let tables = try await store.all(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        ).map { try $0.text(required: "tablename") }
        #expect(tables == ["a", "schema_migrations"])
        await store.close()
    }
}
