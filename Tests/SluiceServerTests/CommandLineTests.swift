import AsyncHTTPClient
import Foundation
import Logging
import SluiceServer
import SluiceStore
import SluiceTestSupport
import NIOCore
import Testing

/// The `sluice` binary, driven as an operator would: admin commands against one database, then
/// `serve --demo` answering a streamed request.
@Suite struct CommandLineTests {
    static let binary = Harness.repoRoot.appendingPathComponent(".build/debug/sluice").path

    struct Run {
        var status: Int32
        var output: String
    }

    /// Runs the binary to completion. Output goes through a file, not a pipe (see Conformance.swift).
    static func run(_ arguments: [String], environment: [String: String], input: String? = nil) throws -> Run {
        let outputURL = URL(fileURLWithPath: NSTemporaryDirectory() + "sluice-cli-\(UUID().uuidString).out")
        let inputPath = outputURL.path + ".in"
        defer { try? FileManager.default.removeItem(at: outputURL); try? FileManager.default.removeItem(atPath: inputPath) }
        if let input { try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath)) }
        let status = try ChildProcess.run(
            binary, arguments, environment: environment, directory: Harness.repoRoot.path, input: input == nil ? "/dev/null" : inputPath,
            output: outputURL.path, errors: "/dev/null")
        return Run(status: status, output: try String(contentsOf: outputURL, encoding: .utf8))
    }

    @Test func adminCommandsSetUpAUserAKeyAnAccountAndCredits() async throws {
        let directory = NSTemporaryDirectory() + "sluice-cli-\(UUID().uuidString)"
        let env = [
            "SLUICE_DATABASE_PATH": directory + "/db.sqlite",
            "SLUICE_SECURITY_ENCRYPTION_KEY": Data(repeating: 3, count: 32).base64EncodedString(),
            "SLUICE_LOGGING_LEVEL": "error",
        ]
        #expect(try Self.run(["migrate"], environment: env).status == 0)
        let user = try Self.run(["users", "create", "--email", "ops@example.com", "--credits", "2.5"], environment: env)
        #expect(user.status == 0)
        let userID = user.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(userID) != nil)
        let key = try Self.run(["keys", "create", "--user", userID, "--name", "laptop"], environment: env)
        #expect(key.output.hasPrefix("sk-sluice-"))
        let account = try Self.run(["accounts", "add", "--provider", "openai", "--secret", "sk-up", "--models", "gpt-4o-mini"], environment: env)
        #expect(account.status == 0 && Int(account.output.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
        let grant = try Self.run(["credits", "grant", "--user", userID, "--amount", "1.25"], environment: env)
        #expect(grant.output.trimmingCharacters(in: .whitespacesAndNewlines) == "3.75")
        // The first admin, with a password read from standard input (never from the command line).
        let admin = try Self.run(
            ["users", "create", "--email", "root@example.com", "--admin", "--password-stdin"], environment: env, input: "first admin pw\n")
        #expect(admin.status == 0)
        let store = try await SQLiteStore(
            path: directory + "/db.sqlite",
            migrations: try MigrationRunner.load(directory: Harness.repoRoot.appendingPathComponent("Migrations/sqlite").path),
            logger: Logger(label: "test"))
        let root = try #require(try await store.user(email: "root@example.com"))
        #expect(root.role == .admin)
        let hash = try #require(try await store.passwordHash(userID: root.id))
        #expect(hash.hasPrefix("$2b$12$"))
        #expect(try await PasswordHasher(cost: 12).verify("first admin pw", against: hash))
        #expect(try Self.run(["users", "create", "--email", "ROOT@example.com"], environment: env).status != 0)
        #expect(try Self.run(["users", "create", "--email", "x@example.com", "--password-stdin"], environment: env, input: "short\n").status != 0)
        // Bad input is refused with a non-zero status.
        #expect(try Self.run(["accounts", "add", "--provider", "nope", "--secret", "x"], environment: env).status != 0)
        #expect(try Self.run(["credits", "grant", "--user", userID, "--amount", "1.0000001"], environment: env).status != 0)
        #expect(try Self.run(["serve", "--port", "1"], environment: env.merging(["SLUICE_SERVER_PROT": "1"]) { $1 }).status != 0)
    }

    /// A `sluice serve --demo` process and the banner it printed.
    final class DemoProcess {
        let process: ChildProcess
        let outputURL = URL(fileURLWithPath: NSTemporaryDirectory() + "sluice-demo-\(UUID().uuidString).out")
        private(set) var banner = ""

        /// Starts the demo, through `launcher` (such as `taskset`) when given, and waits for its banner.
        init(launcher: [String] = []) async throws {
            let command = launcher + [CommandLineTests.binary, "serve", "--demo", "--port", "0"]
            process = try ChildProcess(
                command[0], Array(command.dropFirst()), environment: ["SLUICE_LOGGING_LEVEL": "error"], directory: Harness.repoRoot.path,
                output: outputURL.path, errors: "/dev/null")
            let outputURL = outputURL
            var printed = ""
            try await eventually("the demo prints its API key") {
                printed = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
                return printed.contains("API key: ")
            }
            banner = printed
        }

        deinit {
            process.signal(SIGTERM)
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: outputURL)
        }
    }

    @Test func demoServesAStreamedAnswerWithItsPrintedKey() async throws {
        let demo = try await DemoProcess()
        let banner = demo.banner
        let key = try #require(banner.split(separator: "\n").first { $0.hasPrefix("API key: ") }?.dropFirst("API key: ".count))
        let url = try #require(banner.split(separator: " ").first { $0.hasPrefix("http://") && !$0.hasSuffix("/v1") })
        var request = HTTPClientRequest(url: "\(url)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        request.body = .bytes(ByteBuffer(string: #"{"model":"sluice-demo","stream":true,"messages":[{"role":"user","content":"Hello"}]}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var reader = EventReader(response)
        let events = try await reader.rest()
        #expect(events.last == "[DONE]")
        #expect(events.joined().contains("Sluice demo "))
        #expect(banner.contains("not a real model"))

        // The dashboard is there, and the printed password signs the demo user in.
        let dashboard = try #require(banner.split(separator: "\n").first { $0.hasPrefix("Dashboard: ") })
        let password = try #require(dashboard.components(separatedBy: "password ").last?.split(separator: ";").first.map(String.init))
        var login = HTTPClientRequest(url: "\(url)/api/auth/login")
        login.method = .POST
        login.headers.add(name: "content-type", value: "application/json")
        login.body = .bytes(ByteBuffer(string: #"{"email":"\#(Demo.email)","password":"\#(password)"}"#))
        #expect(try await HTTPClient.shared.execute(login, timeout: .seconds(30)).status == .ok)
        let page = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(url)/"), timeout: .seconds(30))
        #expect(page.status == .ok && page.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
    }

    /// NIO sizes its loops by the machine's cores; a gateway pinned to fewer must run fewer loops, or
    /// its requests hop between threads that share one core.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")))
    func aServerPinnedToOneCoreRunsOneEventLoop() async throws {
        let demo = try await DemoProcess(launcher: ["/usr/bin/taskset", "-c", "0"])
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(demo.process.pid)/task")
        let loops = threads.filter { thread in
            let name = (try? String(contentsOfFile: "/proc/\(demo.process.pid)/task/\(thread)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("NIO-SGLTN-")
        }
        #expect(loops.count == 1)
        #expect(EventLoopSizing.coresInAffinityMask == Self.coresAllowedByProc())
    }

    /// The affinity mask as the kernel reports it in /proc, counted independently of the code under test.
    static func coresAllowedByProc() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return line.dropFirst("Cpus_allowed_list:".count).split(separator: ",").reduce(0) { total, range in
            let bounds = range.trimmingCharacters(in: .whitespaces).split(separator: "-").compactMap { Int($0) }
            return total + (bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1)
        }
    }
}
