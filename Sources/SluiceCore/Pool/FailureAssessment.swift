import Foundation

/// What an upstream failure says about the account: how it failed, and whether the failure
/// belongs to one model on the account or to the whole account.
///
/// The scope is what keeps one 429 from cooling more than it should: a rate limit on one model
/// leaves the account's other models in rotation, while a rejected credential or an exhausted
/// account quota takes the whole account out.
public struct FailureAssessment: Sendable, Equatable {
    public var failure: FailureClass
    public var scope: CooldownScope

    public init(_ failure: FailureClass, _ scope: CooldownScope) {
        self.failure = failure
        self.scope = scope
    }

    /// Could not connect, or no response head in time: nothing about the model is known.
    public static let unreachable = FailureAssessment(.transient, .account)
    /// A 200 whose body is neither JSON nor SSE (a login page, a proxy's error page).
    public static let garbage = FailureAssessment(.transient, .account)

    /// Classifies a failed response for `model`. `body` is the error body, when read.
    public static func response(status: Int, body: Data?, model: String) -> FailureAssessment {
        switch status {
        case 429:
            return Self.namesAccountQuota(body) ? .init(.quotaExhausted, .account) : .init(.rateLimited, .model(model))
        case 401: return .init(.unauthorized, .account)
        case 402, 403: return .init(.quotaExhausted, .account)
        case 404: return .init(.modelUnavailable, .model(model))
        default: return .init(.transient, .model(model))
        }
    }

    /// OpenAI's `insufficient_quota` (and the same words from compatible providers) means the
    /// account has no quota left at all, for any model.
    static func namesAccountQuota(_ body: Data?) -> Bool {
        guard let body, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let error = object["error"] as? [String: Any]
        else { return false }
        let markers = [error["code"], error["type"], error["status"]].compactMap { $0 as? String }
        return markers.contains { $0 == "insufficient_quota" || $0 == "billing_hard_limit_reached" }
    }
}
