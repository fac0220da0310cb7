import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// Every admin command of the CLI, on SQLite and on PostgreSQL, checked by what it prints and
/// what it leaves in the store.
@Suite struct AdminCommandLineTests {
    struct Run {
        var status: Int32
        var output: String
        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    /// Runs the binary and polls for its end, so no cooperative thread blocks on it.
    static func run(_ arguments: [String], environment: [String: String], input: String? = nil) async throws -> Run {
        let base = NSTemporaryDirectory() + "sluice-admin-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base + ".out"); try? FileManager.default.removeItem(atPath: base + ".in") }
        if let input { try Data(input.utf8).write(to: URL(fileURLWithPath: base + ".in")) }
        let child = try ChildProcess(
            CommandLineTests.binary, arguments, environment: environment, directory: Harness.repoRoot.path,
            input: input == nil ? "/dev/null" : base + ".in", output: base + ".out", errors: "/dev/null")
        while child.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        return Run(status: child.waitUntilExit(), output: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "")
    }

    static var backends: [String] { ["sqlite"] + (TestPostgres.baseURL == nil ? [] : ["postgres"]) }

    @Test(arguments: backends)
    func everyAdminCommandDoesWhatTheAdminAPIDoes(_ backend: String) async throws {
        let directory = NSTemporaryDirectory() + "sluice-admin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var env = [
            "SLUICE_SECURITY_ENCRYPTION_KEY": Data(repeating: 7, count: 32).base64EncodedString(), "SLUICE_LOGGING_LEVEL": "error",
            "SLUICE_DATABASE_MIGRATIONS_DIR": Harness.repoRoot.appendingPathComponent("Migrations").path,
            "SLUICE_PROVIDERS_DIR": Harness.repoRoot.appendingPathComponent("Providers").path,
            // Balances move by what the commands do alone, not by a plan's monthly grant.
            "SLUICE_PLANS_PRO_MONTHLY_CREDITS": "0", "SLUICE_PLANS_FREE_MONTHLY_CREDITS": "0",
        ]
        if backend == "postgres" { env["SLUICE_DATABASE_URL"] = try await TestPostgres.freshSchemaURL() } else {
            env["SLUICE_DATABASE_PATH"] = directory + "/db.sqlite"
        }
        func sluice(_ arguments: String..., input: String? = nil) async throws -> Run {
            let run = try await Self.run(arguments, environment: env, input: input)
            #expect(run.status == 0, "sluice \(arguments.joined(separator: " ")) exited \(run.status): \(run.output)")
            return run
        }
        func id(_ run: Run) throws -> String { try #require(run.lines.last.flatMap { Int($0) }.map(String.init), "\(run.output)") }

        // Users: list, show, set, disable, enable.
        let ops = try id(try await sluice("users", "create", "--email", "ops@example.com", "--credits", "2"))
        _ = try await sluice("users", "create", "--email", "dev@example.com")
        let listed = try await sluice("users", "list")
        #expect(listed.lines.first?.hasPrefix("id") == true && listed.output.contains("ops@example.com") && listed.output.contains("dev@example.com"))
        #expect(try await sluice("users", "list", "--search", "dev").lines.count == 2)
        _ = try await sluice("users", "set", ops, "--role", "admin", "--trust", "3", "--plan", "pro")
        var shown = try await sluice("users", "show", ops).output
        let trust = shown.split(separator: "\n").first { $0.hasPrefix("trust") }
        #expect(shown.contains("admin") && shown.contains("pro") && trust?.hasSuffix(" 3") == true)
        _ = try await sluice("users", "disable", ops)
        #expect(try await sluice("users", "show", ops).output.contains("disabled"))
        _ = try await sluice("users", "enable", ops)
        shown = try await sluice("users", "show", ops).output
        #expect(shown.contains("active"))
        #expect(try await Self.run(["users", "show", "999999"], environment: env).status != 0)
        #expect(try await Self.run(["users", "set", ops, "--trust", "9"], environment: env).status != 0)

        // Keys: list and revoke.
        let key = try await sluice("keys", "create", "--user", ops, "--name", "laptop").output.trimmingCharacters(in: .whitespacesAndNewlines)
        var keys = try await sluice("keys", "list", "--user", ops)
        #expect(keys.output.contains(String(key.prefix(14))) && keys.output.contains("active") && !keys.output.contains(key))
        let keyID = try #require(keys.lines.dropFirst().first?.split(separator: " ").first.map(String.init))
        _ = try await sluice("keys", "revoke", keyID)
        keys = try await sluice("keys", "list", "--user", ops)
        #expect(!keys.output.contains(String(key.prefix(14))), "a revoked key is no longer listed")
        #expect(try await Self.run(["keys", "revoke", keyID], environment: env).status != 0, "revoked twice")

        // Accounts: list, disable, enable, reset, set-secret, remove.
        let account = try id(try await sluice("accounts", "add", "--provider", "openai", "--secret", "sk-up-1", "--models", "gpt-4o-mini"))
        #expect(try await sluice("accounts", "list").output.contains("enabled"))
        _ = try await sluice("accounts", "disable", account)
        #expect(try await sluice("accounts", "list").output.contains("disabled"))
        _ = try await sluice("accounts", "enable", account)
        _ = try await sluice("accounts", "reset", account)
        _ = try await sluice("accounts", "set-secret", account, input: "sk-up-2\n")
        var database = SluiceConfig().database
        database.path = env["SLUICE_DATABASE_PATH"] ?? ""
        database.url = env["SLUICE_DATABASE_URL"] ?? ""
        database.migrationsDir = env["SLUICE_DATABASE_MIGRATIONS_DIR"]!
        let store = try await SluiceServer.openStore(database, logger: Logger(label: "test"))
        let box = try SecretBox(keys: [1: Data(repeating: 7, count: 32)], activeVersion: 1)
        let accountID = try #require(Int64(account))
        let stored = try #require(try await store.account(id: accountID))
        #expect(try box.open(stored.secret) == "sk-up-2")
        #expect(!(try await sluice("accounts", "list").output.contains("sk-up")), "no secret is printed")
        _ = try await sluice("accounts", "remove", account)
        #expect(try await store.account(id: Int64(account)!) == nil)

        // Credits: grant, balance, history.
        _ = try await sluice("credits", "grant", "--user", ops, "--amount", "1.5", "--note", "thanks")
        #expect(try await sluice("credits", "balance", "--user", ops).output.trimmingCharacters(in: .whitespacesAndNewlines) == "3.5")
        let history = try await sluice("credits", "history", "--user", ops)
        #expect(history.lines.count == 3 && history.output.contains("thanks"))

        // Usage, as a table and as CSV, from a request the store settled.
        _ = try await sluice("keys", "create", "--user", ops)
        let keyRecord = try #require(try await store.apiKeys(userID: Int64(ops)!).first)
        let record = UsageRecord(
            requestID: "req_cli_1", userID: Int64(ops)!, apiKeyID: keyRecord.id, model: "gpt-4o-mini", servedModel: nil, clientProtocol: "openai-chat",
            upstreamProtocol: nil, provider: "openai", accountID: nil, usage: TokenUsage(promptTokens: 12, completionTokens: 3), charged: Credits(micros: 50),
            costEstimated: false, latencyMs: 20, ttftMs: nil, status: 200, endReason: "completed", stream: false)
        _ = try await store.recordSettlements([record])
        let table = try await sluice("usage", "--user", ops)
        #expect(table.output.contains("req_cli_1") && table.output.contains("0.00005"))
        let csv = try await sluice("usage", "--user", ops, "--format", "csv")
        #expect(csv.lines.first == "time,request_id,model,provider,account,prompt_tokens,completion_tokens,cost,status,end_reason")
        #expect(csv.lines.count == 2 && csv.lines[1].contains(",req_cli_1,gpt-4o-mini,openai,,12,3,0.00005,200,completed"))

        // Redemption codes: made, listed with their uses, and redeemable.
        let codes = try await sluice("codes", "create", "--value", "5", "--count", "2", "--max-uses", "3").lines
        #expect(codes.count == 2 && codes.allSatisfy { $0.hasPrefix("SLC-") })
        let listedCodes = try await sluice("codes", "list")
        #expect(listedCodes.lines.count == 3 && listedCodes.output.contains("0/3") && !listedCodes.output.contains(codes[0]))
        if case .credited = try await store.redeem(codeHash: KeyAuthenticator.hash(codes[0]), userID: Int64(ops)!, now: Date()) {} else {
            Issue.record("a code the CLI made could not be redeemed")
        }
        #expect(try await sluice("codes", "list").output.contains("1/3"))

        // Config check and backup.
        #expect(try await sluice("config", "check").output.contains("config ok"))
        var broken = env
        broken["SLUICE_SECURITY_ENCRYPTION_KEY"] = "short"
        #expect(try await Self.run(["config", "check"], environment: broken).status != 0)
        let copy = directory + "/backup.sqlite"
        if backend == "sqlite" {
            _ = try await sluice("backup", "--to", copy)
            let restored = try await SQLiteStore(
                path: copy, migrations: try MigrationRunner.load(directory: env["SLUICE_DATABASE_MIGRATIONS_DIR"]! + "/sqlite"), logger: Logger(label: "test"))
            // 2 + 1.5 granted, 0.00005 charged, 5 redeemed.
            #expect(try await restored.user(email: "ops@example.com")?.balance == Credits(micros: 8_499_950))
            await restored.close()
        } else {
            let refused = try await Self.run(["backup", "--to", copy], environment: env)
            #expect(refused.status != 0 && !FileManager.default.fileExists(atPath: copy))
        }
        await store.close()
    }
}
