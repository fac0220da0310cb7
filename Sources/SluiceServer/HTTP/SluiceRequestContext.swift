import Foundation
import Hummingbird
import NIOCore

/// The context of every request: Hummingbird's core storage plus the id the client sees in
/// `x-request-id` and that the ledger and usage log use to settle exactly once.
public struct SluiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    private let channel: any Channel
    /// Set by `SignInMiddleware` on the routes behind it; `UserContext` and `AdminContext` are
    /// made from it.
    var signedIn: SignedIn?
    /// Set by `ServiceTokenMiddleware` on the metering routes; `ServiceContext` is made from it.
    var service: ServiceCaller?
    /// What the access log, request metrics and traces learn as the request is served; the
    /// observer replaces it with one that holds the request's trace when tracing is on.
    var observation = RequestObservation()

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

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A new request id: `req_`, then the time in milliseconds (12 hex digits) and 64 random bits
    /// (16 hex digits).
    ///
    /// Time comes first so that ids are issued in increasing order, give or take a clock tick and
    /// other instances. The usage log and the ledger each keep a unique index on this id. With
    /// random ids each insert landed on a random page of those indexes: the settlement writer wrote
    /// a page per index per request to the WAL, and once the indexes outgrew SQLite's page cache it
    /// read each page back first. Ids in order land on the index's last page, which a batch shares.
    static func makeRequestID(
        millis: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000), random: UInt64 = .random(in: .min ... .max)
    ) -> String {
        String(unsafeUninitializedCapacity: 32) { out in
            for (index, byte) in "req_".utf8.enumerated() { out[index] = byte }
            for digit in 0..<12 { out[4 + digit] = Self.hexDigits[Int(truncatingIfNeeded: millis >> UInt64(44 - 4 * digit)) & 0xf] }
            for digit in 0..<16 { out[16 + digit] = Self.hexDigits[Int(truncatingIfNeeded: random >> UInt64(60 - 4 * digit)) & 0xf] }
            return 32
        }
    }
}
