import ArgumentParser
import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore

struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A user's gateway requests, newest first, as a table or CSV: time, request, model, provider, account, tokens, cost, status, end.")
    @OptionGroup var options: CommonOptions
    @Option(help: "The user id.") var user: Int64
    @Option(help: "Only this model.") var model: String?
    @Option(help: "At most this many, 1 to 10000.") var limit: Int = 100
    @Option(help: "table or csv.") var format: String = "table"

    func run() async throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000") }
        guard ["table", "csv"].contains(format) else { throw ValidationError("--format must be table or csv") }
        try await options.withGateway { _, gateway in
            _ = try await Lookup.user(user, in: gateway)
            let rows = try await gateway.store.usage(UsageQuery(userID: user, model: model, page: PageRequest(limit: limit))).map { row in
                let record = row.record
                return [
                    record.createdAt.formatted(.iso8601), record.requestID, record.model, record.provider ?? "", record.accountID.map(String.init) ?? "",
                    String(record.usage.promptTokens), String(record.usage.completionTokens), record.charged.description, String(record.status),
                    record.endReason,
                ]
            }
            let header = ["time", "request_id", "model", "provider", "account", "prompt_tokens", "completion_tokens", "cost", "status", "end_reason"]
            print(format == "csv" ? Table.csv(header, rows) : Table.render(header, rows))
        }
    }
}

struct Codes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage redemption codes.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make redemption codes and print them, one a line. They are shown only now.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Credits each code gives, a decimal such as 5 or 2.5.") var value: String
        @Option(help: "How many codes, 1 to 1000.") var count: Int = 1
        @Option(help: "How many users may redeem each code.") var maxUses: Int = 1
        @Option(help: "An RFC 3339 time after which the codes no longer work.") var expiresAt: String?

        func run() async throws {
            guard let credits = SluiceCore.Credits(decimal: value), credits > .zero else {
                throw ValidationError("--value must be a positive decimal with at most 6 decimals")
            }
            guard (1...1000).contains(count) else { throw ValidationError("--count must be from 1 to 1000") }
            guard (1...1_000_000).contains(maxUses) else { throw ValidationError("--max-uses must be from 1 to 1000000") }
            var expiry: Date?
            if let expiresAt {
                guard let date = try? Date(expiresAt, strategy: .iso8601), date > Date() else {
                    throw ValidationError("--expires-at must be an RFC 3339 time in the future, such as 2027-01-01T00:00:00Z")
                }
                expiry = date
            }
            try await options.withGateway { _, gateway in
                for _ in 0..<count {
                    let code = RedemptionCodes.make()
                    _ = try await gateway.store.createRedemptionCode(NewRedemptionCode(
                        codeHash: KeyAuthenticator.hash(code), prefix: String(code.prefix(8)), value: credits, maxUses: maxUses, expiresAt: expiry,
                        createdBy: nil))
                    print(code)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List redemption codes, newest first: id, prefix, value, uses, expiry.")
        @OptionGroup var options: CommonOptions
        @Option(help: "At most this many, 1 to 1000.") var limit: Int = 100

        func run() async throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            try await options.withGateway { _, gateway in
                let codes = try await gateway.store.redemptionCodes(page: PageRequest(limit: limit))
                print(Table.render(
                    ["id", "prefix", "value", "uses", "expires_at", "created_at"],
                    codes.map {
                        [String($0.id), $0.prefix, $0.value.description, "\($0.usedCount)/\($0.maxUses)", $0.expiresAt?.formatted(.iso8601) ?? "",
                         $0.createdAt.formatted(.iso8601)]
                    }))
            }
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Work with the configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the config file and SLUICE_ variables as `serve` would, without starting or touching the database.")
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let config = try options.load()
            for line in try SluiceServer.checkConfiguration(config) { print(line) }
            print("config ok")
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite database to a file while the gateway runs (SQLite's online backup). For PostgreSQL, use pg_dump.")
    @OptionGroup var options: CommonOptions
    @Option(help: "The file to write; it must not exist.") var to: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: to) else { throw ValidationError("\(to) exists; choose a new file") }
        let config = try options.load()
        guard config.database.url.isEmpty else {
            throw ValidationError("the database is PostgreSQL: back it up with pg_dump (see README, Operations)")
        }
        let store = try await SluiceServer.openStore(config.database, logger: Logger(label: "sluice"))
        do {
            guard let sqlite = store as? SQLiteStore else { throw ValidationError("not a SQLite store") }
            try await sqlite.backup(to: to)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        print("backed up \(config.database.path) to \(to)")
    }
}

/// Plain-text tables and CSV for the admin commands.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
    static func csv(_ header: [String], _ rows: [[String]]) -> String {
        ([header] + rows).map { row in
            row.map { field in
                field.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
            }.joined(separator: ",")
        }.joined(separator: "\n")
    }
}

enum Lookup {
    static func user(_ id: Int64, in gateway: Gateway) async throws -> UserRecord {
        guard let user = try await gateway.store.user(id: id) else { throw ValidationError("no user with id \(id)") }
        return user
    }
}
