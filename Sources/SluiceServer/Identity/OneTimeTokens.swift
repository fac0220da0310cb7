import Foundation
import SluiceCore
import SluiceStore
import Synchronization

/// Issues and spends the single-use secrets of mailed links, SSO states and two-factor tickets.
/// The secret goes to its holder; the store keeps only its SHA-256, so a copy of the database
/// opens no link.
struct OneTimeTokens: Sendable {
    let store: any GatewayStore

    /// When this process last removed expired tokens: issuing prunes at most once an hour, so the
    /// table holds about a day of sign-ins and mails however long the gateway runs.
    private static let lastPrune = Mutex<Date>(.distantPast)

    /// A new secret for `purpose`, alive for `ttl` seconds, carrying `payload` (a JSON object).
    func issue(_ purpose: OneTimePurpose, userID: Int64?, payload: some Encodable = [String: String](), ttl: TimeInterval) async throws -> String {
        let secret = AccessTokens.randomToken(bytes: 32)
        let now = Date()
        let text = String(decoding: try APIJSON.encoder.encode(payload), as: UTF8.self)
        try await store.issueOneTimeToken(
            OneTimeToken(hash: KeyAuthenticator.hash(secret), purpose: purpose, userID: userID, payload: text, expiresAt: now.addingTimeInterval(ttl)),
            now: now)
        let due = Self.lastPrune.withLock { last in
            guard now.timeIntervalSince(last) >= 3600 else { return false }
            last = now
            return true
        }
        // Spent and expired tokens are worth nothing; a day's margin keeps them for a look after a complaint.
        if due { try? await store.pruneOneTimeTokens(before: now.addingTimeInterval(-86_400)) }
        return secret
    }

    /// The token behind `secret`, spent now; `GatewayError.invalidLink` when it is unknown,
    /// spent, expired or for another purpose.
    func spend<Payload: Decodable>(_ secret: String?, _ purpose: OneTimePurpose, as payload: Payload.Type) async throws -> (OneTimeToken, Payload) {
        guard let secret, !secret.isEmpty, secret.count <= 128,
              let token = try await store.spendOneTimeToken(hash: KeyAuthenticator.hash(secret), purpose: purpose, now: Date())
        else { throw GatewayError.invalidLink }
        return (token, try decode(token, as: payload))
    }

    /// The same checks without spending it.
    func peek(_ secret: String?, _ purpose: OneTimePurpose) async throws -> OneTimeToken {
        guard let secret, !secret.isEmpty, secret.count <= 128,
              let token = try await store.liveOneTimeToken(hash: KeyAuthenticator.hash(secret), purpose: purpose, now: Date())
        else { throw GatewayError.invalidLink }
        return token
    }

    private func decode<Payload: Decodable>(_ token: OneTimeToken, as payload: Payload.Type) throws -> Payload {
        do { return try APIJSON.decoder.decode(Payload.self, from: Data(token.payload.utf8)) } catch { throw GatewayError.invalidLink }
    }
}

/// For tokens that carry nothing.
struct NoPayload: Codable {}
