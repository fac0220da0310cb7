import Foundation

/// A user's TOTP secret: pending until the first code confirms it.
public struct TOTPRecord: Sendable {
    public var userID: Int64
    public var secret: SealedSecret
    public var enabledAt: Date?
    public var enabled: Bool { enabledAt != nil }
}

/// Two-factor sign-in state. The checks that make a code single use are in the store, in one
/// statement each, so two instances cannot both accept one code.
public protocol TwoFactorStore: Sendable {
    func totp(userID: Int64) async throws -> TOTPRecord?
    /// Stores a new pending secret, replacing a pending one; false when two-factor is already on.
    func savePendingTOTP(userID: Int64, secret: SealedSecret) async throws -> Bool
    /// Turns the pending secret on at time step `step`, with these recovery codes; false when it
    /// is not pending.
    func enableTOTP(userID: Int64, step: Int64, recoveryHashes: [String], at: Date) async throws -> Bool
    /// Takes time step `step`: false when it or a later one was already used (a replayed code).
    func useTOTPStep(userID: Int64, step: Int64) async throws -> Bool
    /// Uses one of the user's recovery codes; false when it is not theirs or was used.
    func useRecoveryCode(userID: Int64, hash: String, at: Date) async throws -> Bool
    /// Removes the secret and the recovery codes.
    func disableTOTP(userID: Int64) async throws
}

extension TOTPRecord {
    init(row: some StoreRow) throws {
        guard let ciphertext = try row.bytes("secret_ciphertext") else { throw StoreDecodingError(column: "secret_ciphertext") }
        self.init(
            userID: try row.int(required: "user_id"), secret: SealedSecret(ciphertext: ciphertext, keyVersion: Int(try row.int(required: "secret_key_version"))),
            enabledAt: try row.date("enabled_at"))
    }
}
