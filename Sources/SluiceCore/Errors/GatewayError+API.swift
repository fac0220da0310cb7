import Foundation

/// Errors of the self-service and admin API (`/api`), in the same shape as `/v1`'s.
extension GatewayError {
    /// One body for a missing, malformed, expired or forged access token.
    public static let invalidToken = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_token",
        message: "Sign in again: the access token is missing, invalid or expired.", shouldRetry: false)

    public static let invalidCredentials = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_credentials",
        message: "The email or password is wrong.", shouldRetry: false)

    /// One body for a missing, unknown, revoked or expired service token.
    public static let invalidServiceToken = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_service_token",
        message: "The service token is missing, unknown, revoked or expired.", shouldRetry: false)

    /// The password was right; the account wants its second factor in `otp`.
    public static let twoFactorRequired = GatewayError(
        status: 401, type: "invalid_request_error", code: "two_factor_required",
        message: "This account uses two-factor sign-in: send the code from your app (or a recovery code) as `otp`.", shouldRetry: false)

    public static let invalidTwoFactorCode = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_two_factor_code",
        message: "The two-factor code is wrong, expired or already used.", shouldRetry: false)

    public static let twoFactorEnrollmentRequired = GatewayError(
        status: 403, type: "permission_error", code: "two_factor_enrollment_required",
        message: "Admins must turn on two-factor sign-in (POST /api/auth/2fa/setup, then /enable) before using admin routes.",
        shouldRetry: false)

    public static let registrationClosed = GatewayError(
        status: 403, type: "permission_error", code: "registration_closed", message: "Registration is closed.", shouldRetry: false)

    public static let emailNotVerified = GatewayError(
        status: 403, type: "permission_error", code: "email_not_verified",
        message: "Verify your email first: follow the link in the mail we sent (POST /api/auth/email/resend sends another).",
        shouldRetry: false)

    /// A mailed link or SSO state that is unknown, used or expired: one body for all three.
    public static let invalidLink = GatewayError(
        status: 400, type: "invalid_request_error", code: "invalid_or_expired_token", param: "token",
        message: "This link or token is invalid, expired or already used.", shouldRetry: false)

    /// A request that the dashboard's cookies signed in changes something without the page's
    /// CSRF token, or a browser says it came from another site.
    public static let csrfFailed = GatewayError(
        status: 403, type: "permission_error", code: "csrf_failed",
        message: "The request lacks the page's CSRF token (X-CSRF-Token), or came from another site.", shouldRetry: false)

    public static let adminOnly = GatewayError(
        status: 403, type: "permission_error", code: "admin_only", message: "Only an admin may do this.", shouldRetry: false)

    /// A team member whose role is below what the action needs.
    public static func teamRoleRequired(_ role: String) -> Self {
        .init(
            status: 403, type: "permission_error", code: "team_role_required",
            message: "Only a team \(role) or above may do this.", shouldRetry: false)
    }

    public static func conflict(_ message: String, param: String? = nil) -> Self {
        .init(status: 409, type: "invalid_request_error", code: "conflict", param: param, message: message, shouldRetry: false)
    }

    public static func idempotencyMismatch() -> Self {
        .init(
            status: 422, type: "invalid_request_error", code: "idempotency_key_reused",
            message: "This Idempotency-Key was used with a different request body.", shouldRetry: false)
    }

    public static func rateLimited(_ message: String, retryAfterSeconds: Int) -> Self {
        .init(
            status: 429, type: "rate_limit_error", code: "rate_limit_exceeded", message: message, shouldRetry: true,
            retryAfterSeconds: retryAfterSeconds)
    }

    public static func missingScope(_ scope: String) -> Self {
        .init(
            status: 403, type: "permission_error", code: "insufficient_scope", message: "This service token lacks the scope \(scope).",
            shouldRetry: false)
    }

    /// The metering API's debit that would overdraw: 402, with the balance the caller met.
    public static func insufficientCredits(needed: Credits, balance: Credits) -> Self {
        .init(
            status: 402, type: "insufficient_quota", code: "insufficient_credits",
            message: "The balance is \(balance) credits, less than the \(needed) to consume. Nothing was consumed.", shouldRetry: false)
    }

    public static let userMuted = GatewayError(
        status: 403, type: "permission_error", code: "account_muted", message: "This user may not call models right now.",
        shouldRetry: false)

    public static let addressNotAllowed = GatewayError(
        status: 403, type: "permission_error", code: "ip_not_allowed",
        message: "This API key may not be used from this address.", shouldRetry: false)

    public static func keySpendLimitReached(limit: Credits) -> Self {
        .init(
            status: 429, type: "insufficient_quota", code: "key_spend_limit_reached",
            message: "This API key has reached its spending limit of \(limit) credits.", shouldRetry: false)
    }

    /// A team key whose member has spent their limit on the team's wallet.
    public static func memberSpendLimitReached(limit: Credits) -> Self {
        .init(
            status: 429, type: "insufficient_quota", code: "member_spend_limit_reached",
            message: "You have reached your spending limit of \(limit) credits on this team.", shouldRetry: false)
    }
}
