import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to a loopback port, for clients no HTTP library would be: ones that send
/// half a request and stall, or flood headers. A receive blocks a thread of its own, bounded by its
/// timeout: on the cooperative pool (two threads here) it would starve the gateway under test.
///
/// `@unchecked Sendable`: one test drives a connection, one call at a time; the descriptor is
/// only touched by the call in progress.
public final class RawConnection: @unchecked Sendable {
    private var fd: Int32

    /// `receiveBuffer`: the socket's receive buffer, small for a client that reads slowly.
    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(fd)
            throw ChildProcessError(message: "cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    public func send(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public enum Received: Equatable {
        /// The server closed the connection (after sending `text`).
        case closed(String)
        /// Nothing more came within the timeout; `text` is what did.
        case open(String)
    }

    /// Reads until the server closes the connection, `seconds` pass without a byte, or what came
    /// holds `marker` (then `.open`, at once: a loaded machine may be slow to answer, and a test
    /// that knows what it waits for need not wait out the timeout).
    public func receive(waiting seconds: Double, until marker: String? = nil) async -> Received {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.receiveBlocking(waiting: seconds, until: marker)) }.start()
        }
    }

    private func receiveBlocking(waiting seconds: Double, until marker: String?) -> Received {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: buffer[0..<count])
                if let marker, String(decoding: received, as: UTF8.self).contains(marker) { return .open(String(decoding: received, as: UTF8.self)) }
            } else {
                let text = String(decoding: received, as: UTF8.self)
                // 0: an orderly close; ECONNRESET: a close with unread bytes left behind.
                return count == 0 || errno == ECONNRESET ? .closed(text) : .open(text)
            }
        }
    }
}
