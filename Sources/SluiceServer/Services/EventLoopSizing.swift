#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// How many event loops the process should run: one per core it may actually run on.
///
/// NIO sizes its loops by the machine's cores, less any cgroup limit, but not by the process's CPU
/// affinity. A gateway pinned to one core (`taskset`, a cpuset in an orchestrator's static CPU
/// policy) would then run one loop per machine core on that single core, and every request that
/// crossed loops would pay a thread wake-up and a context switch for nothing. Measured on the
/// 2-core machine with Sluice pinned to one core: about 15 % more requests/s with one loop than two.
public enum EventLoopSizing {
    public static var loopCount: Int {
        guard let allowed = coresInAffinityMask, allowed > 0 else { return System.coreCount }
        return min(System.coreCount, allowed)
    }

    /// The number of CPUs in this process's affinity mask, or nil where it cannot be read.
    public static var coresInAffinityMask: Int? {
        #if os(Linux)
        // Glibc declares `sched_getaffinity` only under _GNU_SOURCE, which Swift's Glibc module
        // does not define, so it is looked up at run time.
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") else { return nil }
        let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
        var mask = cpu_set_t()
        let result = withUnsafeMutableBytes(of: &mask) { getAffinity(0, $0.count, $0.baseAddress!) }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &mask) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
        #else
        return nil
        #endif
    }
}
