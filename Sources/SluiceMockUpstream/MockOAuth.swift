import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The mock's OAuth token endpoint (`POST /oauth/token`, the refresh-token grant of RFC 6749 §6).
///
/// Refresh tokens are single use, as at real providers: a refresh consumes the one it was given
/// and issues `<account>-access-N` and `<account>-refresh-N`. An unknown or used refresh token
/// gets 400 `invalid_grant`.
public final class MockTokenEndpoint: Sendable {
    struct State {
        var refreshTokens: [String: String] = [:]
        var issued = 0
        var requests = 0
        /// `client_id` and `client_secret` of each refresh, in order.
        var clients: [[String]] = []
        var delay: Duration = .zero
        var failStatus: Int?
        var expiresIn = 3600
    }

    let state = Mutex(State())

    public init() {}

    /// `token` is a valid refresh token of `account` until it is used.
    public func grant(refreshToken token: String, account: String) {
        state.withLock { $0.refreshTokens[token] = account }
    }

    /// Refresh requests received, whatever their outcome.
    public var requests: Int { state.withLock { $0.requests } }

    /// The `client_id` and `client_secret` each refresh named ("" when absent), in order.
    public var clients: [[String]] { state.withLock { $0.clients } }

    /// Each answer waits `delay` first; with `failStatus` every answer is that error instead;
    /// issued access tokens say they live `expiresIn` seconds.
    public func configure(delay: Duration = .zero, failStatus: Int? = nil, expiresIn: Int = 3600) {
        state.withLock { state in
            state.delay = delay
            state.failStatus = failStatus
            state.expiresIn = expiresIn
        }
    }

    func respond(_ request: Request) async throws -> Response {
        var request = request
        let form = Self.form(String(buffer: try await request.collectBody(upTo: 64 << 10)))
        let delay = state.withLock { state -> Duration in
            state.requests += 1
            state.clients.append([form["client_id"] ?? "", form["client_secret"] ?? ""])
            return state.delay
        }
        if delay > .zero { try await Task.sleep(for: delay) }
        enum Outcome {
            case failed(Int)
            case invalidGrant
            case issued(access: String, refresh: String, expiresIn: Int)
        }
        let outcome = state.withLock { state -> Outcome in
            if let status = state.failStatus { return .failed(status) }
            guard form["grant_type"] == "refresh_token", let token = form["refresh_token"],
                  let account = state.refreshTokens.removeValue(forKey: token)
            else { return .invalidGrant }
            state.issued += 1
            let refresh = "\(account)-refresh-\(state.issued)"
            state.refreshTokens[refresh] = account
            return .issued(access: "\(account)-access-\(state.issued)", refresh: refresh, expiresIn: state.expiresIn)
        }
        switch outcome {
        case .failed(let status):
            return MockUpstream.json(status, #"{"error":"temporarily_unavailable"}"#)
        case .invalidGrant:
            return MockUpstream.json(400, #"{"error":"invalid_grant","error_description":"The refresh token is invalid or was used."}"#)
        case .issued(let access, let refresh, let expiresIn):
            return MockUpstream.json(
                200, #"{"access_token":"\#(access)","refresh_token":"\#(refresh)","token_type":"Bearer","expires_in":\#(expiresIn)}"#)
        }
    }

    static func form(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }
}
