import Foundation
import Synchronization

/// What the mock upstream does with one request.
public enum MockBehavior: Sendable, Equatable {
    /// Answer normally: a `chat.completion`, or a stream of `chunks` content chunks.
    case succeed
    /// Answer with this status and an OpenAI error body, with `Retry-After` when given.
    case fail(status: Int, retryAfter: String? = nil)
    /// Stream `afterChunks` content chunks, wait for `MockControl.releaseGate()`, then drop the
    /// connection without `[DONE]`.
    case breakStream(afterChunks: Int)
    /// Send a 200 stream whose first event is an in-band `{"error":…}`.
    case inBandError
    /// Never answer (until the caller gives up).
    case hang
    /// Stream one chunk, then wait until `MockControl.releaseGate()` before sending the rest.
    case gated
    /// Stream forever, a chunk every `intervalMillis`, until the caller goes away.
    case endless(intervalMillis: Int)
    /// Stream forever, chunks of `chunkBytes` of content as fast as the caller reads them.
    case flood(chunkBytes: Int)
    /// Answer 200 with an HTML page instead of JSON or SSE.
    case garbage
    /// Stream a function call to `get_weather` in tool-call deltas, finishing with `tool_calls`.
    case toolCall
    /// Stream a normal answer in one write, as a fast upstream's stream often arrives in one read.
    case burst
}

/// One request the mock received, for tests to inspect.
public struct MockRequestRecord: Sendable {
    public var authorization: String?
    public var apiKeyHeader: String?
    public var cookie: String?
    public var body: Data
    /// `anthropic-version` and `anthropic-beta`, for Messages requests.
    public var anthropicVersion: String? = nil
    public var anthropicBeta: String? = nil
    /// The path, for a route other than the API's main one (`/v1/messages/count_tokens`).
    public var path: String? = nil
}

/// Shared switchboard between a test (or the demo) and the running mock.
///
/// Behaviour is chosen per credential, so several upstream accounts can point at one mock and
/// each fail in its own way: the credential is the bearer token, the `api-key` header or the
/// `session` cookie, whichever the request carries.
public final class MockControl: Sendable {
    struct State {
        var behaviors: [String: [MockBehavior]] = [:]
        var defaultBehavior: MockBehavior = .succeed
        var requests: [MockRequestRecord] = []
        var rotateCookies = false
        var quota: [String: (remaining: Int, limit: Int)] = [:]
        var cookieGeneration = 0
        var abandonedStreams = 0
        var floodedBytes = 0
        var gateOpen = false
        var gateWaiters: [CheckedContinuation<Void, Never>] = []
        var recordRequests = true
    }

    let state = Mutex(State())
    /// The OAuth token endpoint, for accounts of kind oauth.
    public let tokenEndpoint = MockTokenEndpoint()

    public init(recordRequests: Bool = true) {
        state.withLock { $0.recordRequests = recordRequests }
    }

    /// Every request from the account with `credential` behaves this way until changed.
    public func set(_ behavior: MockBehavior, for credential: String) {
        state.withLock { $0.behaviors[credential] = [behavior] }
    }

    /// The next requests from `credential` behave as listed, then as the last one.
    public func script(_ behaviors: [MockBehavior], for credential: String) {
        state.withLock { $0.behaviors[credential] = behaviors }
    }

    /// Responses to `credential` carry `x-ratelimit-remaining-requests` and `x-ratelimit-limit-requests`
    /// (Anthropic's: `anthropic-ratelimit-requests-remaining`, `-limit` and `-reset`).
    public func reportQuota(remaining: Int, limit: Int, for credential: String) {
        state.withLock { $0.quota[credential] = (remaining, limit) }
    }

    func quota(for credential: String?) -> (remaining: Int, limit: Int)? {
        state.withLock { state in credential.flatMap { state.quota[$0] } }
    }

    public func setDefault(_ behavior: MockBehavior) { state.withLock { $0.defaultBehavior = behavior } }

    /// When on, every response to a cookie account sets `session=rotated-N`.
    public func rotateCookies(_ on: Bool) { state.withLock { $0.rotateCookies = on } }

    public var requests: [MockRequestRecord] { state.withLock { $0.requests } }

    /// Streams the mock stopped because the reader went away.
    public var abandonedStreams: Int { state.withLock { $0.abandonedStreams } }

    public func releaseGate() {
        let waiters = state.withLock { state in
            state.gateOpen = true
            defer { state.gateWaiters.removeAll() }
            return state.gateWaiters
        }
        waiters.forEach { $0.resume() }
    }

    func behavior(for credential: String?) -> MockBehavior {
        state.withLock { state in
            guard let credential, var list = state.behaviors[credential], let first = list.first else { return state.defaultBehavior }
            if list.count > 1 {
                list.removeFirst()
                state.behaviors[credential] = list
            }
            return first
        }
    }

    func record(_ request: MockRequestRecord) {
        state.withLock { if $0.recordRequests { $0.requests.append(request) } }
    }

    func nextCookie() -> String? {
        state.withLock { state in
            guard state.rotateCookies else { return nil }
            state.cookieGeneration += 1
            return "session=rotated-\(state.cookieGeneration); Path=/; HttpOnly"
        }
    }

    func noteAbandoned() { state.withLock { $0.abandonedStreams += 1 } }

    func noteStreamed(bytes: Int) { state.withLock { $0.floodedBytes += bytes } }

    /// Bytes written by `.flood` streams so far: how far a reader let them get.
    public var floodedBytes: Int { state.withLock { $0.floodedBytes } }

    func waitForGate() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if state.gateOpen { return true }
                state.gateWaiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }
}
