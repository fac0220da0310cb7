import Foundation
import Hummingbird
import NIOCore

/// The context of every request: Hummingbird's core storage plus the id the client sees in
/// `x-request-id` and that the ledger and usage log use to settle exactly once.
public struct SluiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = Self.makeRequestID()
        self.channel = source.channel
    }

    /// The peer's IP address, for API keys' allowlists, sign-in throttling and the activity log.
    /// It is the direct peer: behind a proxy, that is the proxy. Formatted only when asked for,
    /// since most requests never need it.
    public var remoteAddress: String? { channel.remoteAddress?.ipAddress }

    /// Request bodies are collected by the handlers with their own configured limit.
    public var maxUploadSize: Int { 64 << 20 }

    static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64
        let b = generator.next() as UInt64
        return "req_" + String(a, radix: 16) + String(b, radix: 16)
    }
}
