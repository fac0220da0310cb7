import Foundation

/// Redemption codes as users type them: `SLC-` and 120 random bits. Only their SHA-256 is stored.
public enum RedemptionCodes {
    public static func make() -> String { "SLC-" + AccessTokens.randomToken(bytes: 15) }
}
