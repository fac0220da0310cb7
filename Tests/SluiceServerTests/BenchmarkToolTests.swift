import Foundation
import SluiceTestSupport
import Testing

/// The benchmark's own tools, run against a real gateway: the probes that take the one-connection
/// and streaming figures, the ledger check that decides "the ledger balances" after every run, and
/// the report. A check that passed any database would make every run look clean, so it is also
/// run on databases broken one invariant at a time. In the suite's second pass the gateway is on
/// PostgreSQL, and the check reads it through `psql` as `bench/run --postgres` does.
@Suite struct BenchmarkToolTests {
    @Test func theProbesCountRealRequestsAndTheirRunLeavesTheLedgerBalanced() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            let url = h.baseURL + "/v1/chat/completions"

            let sequential = try Bench.json(await Bench.run("probe.py", ["seq", url, user.key, "20"]))
            let latency = try #require(sequential["latency_us"] as? [String: Double])
            #expect(sequential["failures"] as? Int == 0)
            #expect(latency["n"] == 20)  // a tenth more ran first, to warm up, and is not counted
            #expect(try #require(latency["p50"]) > 0)
            #expect(latency["p50"]! <= latency["p90"]! && latency["p90"]! <= latency["p99"]! && latency["p99"]! <= latency["max"]!)

            let streamed = try Bench.json(await Bench.run("probe.py", ["stream", url, user.key, "10"]))
            let first = try #require(streamed["first_event_us"] as? [String: Double])
            let total = try #require(streamed["total_us"] as? [String: Double])
            #expect(streamed["failures"] as? Int == 0)
            #expect(first["n"] == 10 && total["n"] == 10)
            #expect(first["p50"]! > 0 && first["p50"]! <= total["p50"]!)

            // A refused request is a failure, not a fast sample.
            let refused = try Bench.json(await Bench.run("probe.py", ["seq", url, "sk-sluice-wrong", "10"]))
            #expect(refused["failures"] as? Int == 10)

            await h.settled()
            let check = try await Bench.ledgerCheck(h)
            #expect(check.status == 0)
            #expect(check.report["balanced"] as? Bool == true)
            #expect(check.report["usage_rows"] as? Int == 22 + 11)
        }
    }

    @Test func theLedgerCheckFailsOnEachBrokenInvariant() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            var requestIDs: [String] = []
            for _ in 0..<3 {
                let reply = try await h.chat(user.key)
                #expect(reply.status == 200)
                requestIDs.append(try #require(reply.headers.first(name: "x-request-id")))
            }
            await h.settled()
            #expect(try await Bench.ledgerCheck(h).status == 0)

            func expectProblem(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let check = try await Bench.ledgerCheck(h)
                #expect(check.status == 1, sourceLocation: sourceLocation)
                #expect(check.report["balanced"] as? Bool == false, sourceLocation: sourceLocation)
                let problems = check.report["problems"] as? [String] ?? []
                #expect(problems.contains { $0.contains(fragment) }, "\(problems)", sourceLocation: sourceLocation)
            }

            // A balance that moved without a ledger entry.
            try Bench.execute(h, "UPDATE users SET balance_micros = balance_micros + 1 WHERE id = \(user.id)")
            try await expectProblem("but ledger sums to")
            try Bench.execute(h, "UPDATE users SET balance_micros = balance_micros - 1 WHERE id = \(user.id)")
            #expect(try await Bench.ledgerCheck(h).status == 0)

            // An entry that does not start where the one before it ended.
            try Bench.execute(h, """
                UPDATE credit_ledger SET balance_before_micros = balance_before_micros + 1, balance_after_micros = balance_after_micros + 1
                WHERE reference_id = '\(requestIDs[1])'
                """)
            try await expectProblem("ledger chain broken")
            try Bench.execute(h, """
                UPDATE credit_ledger SET balance_before_micros = balance_before_micros - 1, balance_after_micros = balance_after_micros - 1
                WHERE reference_id = '\(requestIDs[1])'
                """)
            #expect(try await Bench.ledgerCheck(h).status == 0)

            // A charged request whose consume entry is missing, and a consume entry whose request is.
            try Bench.execute(h, "DELETE FROM credit_ledger WHERE reference_id = '\(requestIDs[2])'")
            try await expectProblem("charged requests without a matching consume entry")
            try Bench.execute(h, "DELETE FROM usage_logs WHERE request_id = '\(requestIDs[0])'")
            try await expectProblem("consume entries without a usage row")
        }
    }

    @Test func theReportPutsEachSideBesideDirectAndSaysWhetherTheLedgerBalanced() async throws {
        func report(ledger: String) async throws -> String {
            let lines = [
                #"{"name":"chat_c32","side":"direct","value":{"rps":10000,"p50_us":3000,"p90_us":4000,"p99_us":5000,"errors":0,"non2xx":0}}"#,
                #"{"name":"chat_c32","side":"proxy","value":{"rps":9000,"p50_us":3100,"p90_us":4100,"p99_us":5100,"errors":0,"non2xx":0}}"#,
                #"{"name":"chat_c32","side":"sluice","value":{"rps":5000,"p50_us":6000,"p90_us":8000,"p99_us":9000,"errors":0,"non2xx":3}}"#,
                #"{"name":"sequential","side":"direct","value":{"latency_us":{"p50":200,"p90":250,"p99":300},"failures":0}}"#,
                #"{"name":"sequential","side":"sluice","value":{"latency_us":{"p50":450,"p90":600,"p99":900},"failures":0}}"#,
                #"{"name":"ledger","side":"sluice","value":\#(ledger)}"#,
            ]
            let path = NSTemporaryDirectory() + "sluice-bench-\(UUID().uuidString).jsonl"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
            let (status, output) = try await Bench.run("report.py", [path, "3", "1000", "1000", "sqlite"])
            #expect(status == 0)
            return output
        }
        let balanced = try await report(ledger: #"{"balanced":true,"usage_rows":7,"ledger_entries":8,"problems":[]}"#)
        #expect(balanced.contains("| chat, 32 conn: throughput | req/s | 10,000 | 9,000 | 0.90 | 5,000 | 0.50 |"))
        #expect(balanced.contains("Sluice p50 250 µs, p90 350 µs, p99 600 µs"))
        #expect(balanced.contains("chat_c32 sluice: 0 socket errors, 3 non-2xx"))
        #expect(balanced.contains("Ledger after the run: balances (7 usage rows, 8 ledger entries)"))
        let broken = try await report(ledger: #"{"balanced":false,"usage_rows":7,"ledger_entries":6,"problems":["user 1: balance 5 but ledger sums to 6"]}"#)
        #expect(broken.contains("Ledger after the run: DOES NOT BALANCE"))
    }
}

/// Runs the scripts in `bench/` as `bench/run` does.
private enum Bench {
    static let directory = Harness.repoRoot.appendingPathComponent("bench")

    /// Runs `bench/SCRIPT` under python3 from the repository root; its exit status and standard
    /// output.
    static func run(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["BENCH_MODEL"] = Harness.model
        return try await runPythonClient(directory.appendingPathComponent(script), arguments: arguments, environment: environment)
    }

    static func json(_ result: (status: Int32, output: String)) throws -> [String: Any] {
        #expect(result.status == 0, "\(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    }

    /// The database as `bench/ledger_check.py` takes it: the SQLite file, or the PostgreSQL URL.
    static func target(_ h: Harness) -> String {
        h.config.database.url.isEmpty ? h.config.database.path : h.config.database.url
    }

    static func ledgerCheck(_ h: Harness) async throws -> (status: Int32, report: [String: Any]) {
        let (status, output) = try await run("ledger_check.py", [target(h)])
        let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return (status, try #require(report, "ledger_check.py printed: \(output)"))
    }

    /// Breaks the gateway's database on purpose, in the store it runs on.
    static func execute(_ h: Harness, _ sql: String) throws {
        let tamper = """
            import sqlite3, subprocess, sys
            target, sql = sys.argv[1], sys.argv[2]
            if target.startswith("postgres"):
                subprocess.run(["psql", target, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
            else:
                db = sqlite3.connect(target)
                db.execute(sql)
                db.commit()
            """
        let status = try ChildProcess.run("/usr/bin/env", ["python3", "-c", tamper, target(h), sql])
        #expect(status == 0, "tampering failed: \(sql)")
    }
}
