import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for tests.
///
/// Not Foundation's `Process`: on Linux its `run()` looks for the highest open descriptor by
/// reading `/proc/self/fd` with a copy that can read past the end of glibc's buffer, and the
/// test process crashed there (swift-corelibs-foundation#5472, in Swift 6.3.1). Here the child
/// closes every descriptor above 2 with `posix_spawn_file_actions_addclosefrom_np`, so it keeps
/// none of the test's sockets open.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The exit status once reaped: `waitpid` answers once, so the answer is kept.
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` (a path) with `arguments`. Standard input reads `input` (default
    /// /dev/null); standard output and error append to `output` and `errors` (default /dev/null).
    /// `environment` nil inherits the test's.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: String = "/dev/null", output: String = "/dev/null", errors: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        } else if output == "/dev/null" {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let directory {
            typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
            guard let addChdir = Self.glibc("posix_spawn_file_actions_addchdir_np", as: AddChdir.self) else {
                throw ChildProcessError(message: "this libc cannot start a child in another directory")
            }
            _ = addChdir(&actions, directory)
        }
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        _ = Self.glibc("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)?(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let error = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard error == 0 else { throw ChildProcessError(message: "posix_spawn \(executable): \(String(cString: strerror(error)))") }
        self.pid = pid
    }

    /// Runs `executable` to its end and returns its exit status.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: String = "/dev/null", output: String = "/dev/null", errors: String? = nil
    ) throws -> Int32 {
        try ChildProcess(
            executable, arguments, environment: environment, directory: directory, input: input, output: output, errors: errors
        ).waitUntilExit()
    }

    /// Blocks until the child ends; its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func waitUntilExit() -> Int32 {
        reap(options: 0) ?? -1
    }

    public var isRunning: Bool { reap(options: WNOHANG) == nil }

    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    private func reap(options: Int32) -> Int32? {
        if let known = status.withLock({ $0 }) { return known }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, options) } while result == -1 && errno == EINTR
        guard result == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        let signal = raw & 0x7f
        let code = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        return status.withLock { known in
            if known == nil { known = code }
            return known
        }
    }

    /// glibc has `posix_spawn_file_actions_addchdir_np` (2.29) and `…_addclosefrom_np` (2.34), but
    /// its header declares them only for `_GNU_SOURCE`, which Swift's Glibc module does not
    /// define; so they are looked up by name.
    private static func glibc<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
