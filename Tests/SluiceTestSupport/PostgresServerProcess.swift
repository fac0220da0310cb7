import Foundation

/// A PostgreSQL server of the test's own, in a temporary data directory, to stop and start under a
/// running gateway. Uses the binaries `scripts/setup-deps` installs; under root it runs them as the
/// `postgres` user, since PostgreSQL refuses to run as root.
public final class PostgresServerProcess: Sendable {
    public let port: Int
    let directory: String
    let bin: String

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Creates the cluster and starts it.
    public init(port: Int) async throws {
        self.port = port
        directory = NSTemporaryDirectory() + "sluice-pg-\(UUID().uuidString)"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).max() else { throw Failed(description: "PostgreSQL is not installed") }
        bin = "/usr/lib/postgresql/\(newest)/bin"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try await Self.run("/bin/chown", ["postgres:", directory]) }
        try await asOwner("\(bin)/initdb", ["-D", directory, "-U", "sluice", "-A", "trust", "--no-sync"])
        try await start()
    }

    public var url: String { "postgres://sluice@127.0.0.1:\(port)/postgres?sslmode=disable" }

    public func start() async throws {
        try await asOwner(
            "\(bin)/pg_ctl",
            ["-D", directory, "-l", directory + "/server.log", "-w", "-t", "60", "start", "-o", "-h 127.0.0.1 -p \(port) -k '' -c fsync=off"])
    }

    /// Stops it the way a crash would: no checkpoint, every connection cut at once.
    public func stop() async throws {
        try await asOwner("\(bin)/pg_ctl", ["-D", directory, "-m", "immediate", "-w", "stop"])
    }

    /// Stops it if it runs, and deletes its data.
    public func remove() async {
        try? await asOwner("\(bin)/pg_ctl", ["-D", directory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func asOwner(_ executable: String, _ arguments: [String]) async throws {
        if getuid() == 0 {
            try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try await Self.run(executable, arguments)
        }
    }

    /// Runs a command to its end. Not with `Process`, which on Linux did not see `pg_ctl start`
    /// end while the server it left behind ran. Here `waitpid` sees the command itself end, and
    /// the child gets no descriptor of this process beyond the standard streams, so the server
    /// holds none of the test's sockets open.
    static func run(_ executable: String, _ arguments: [String]) async throws {
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        closeFrom3(&actions)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv + [nil], environ)
        guard spawned == 0 else { throw Failed(description: "\(executable): posix_spawn failed (\(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        // Exited normally with code 0: the low 7 bits (the signal) and the exit code are both zero.
        guard status == 0 else { throw Failed(description: "\(executable) \(arguments.joined(separator: " ")) failed (status \(status))") }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34), which Swift's Glibc module does not
    /// export: looked up at run time.
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }
}
