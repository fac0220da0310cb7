import HummingbirdBcrypt
import NIOPosix
import SluiceCore

/// bcrypt, off the event loops: one hash at cost 12 takes a few hundred milliseconds of CPU, which
/// would stall every connection on the loop that ran it.
public struct PasswordHasher: Sendable {
    let cost: Int

    public init(cost: Int) { self.cost = cost }

    /// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut.
    static let maxBytes = 72
    static let minCharacters = 8

    /// Refuses a password too short to resist guessing, or too long for bcrypt to read whole.
    public static func validate(_ password: String) throws(GatewayError) {
        // Unicode scalars, as JSON Schema's `minLength` counts them, so the document states the rule.
        guard password.unicodeScalars.count >= minCharacters else {
            throw .invalidRequest("`password` must have at least \(minCharacters) characters.", param: "password")
        }
        guard password.utf8.count <= maxBytes else {
            throw .invalidRequest("`password` must be at most \(maxBytes) bytes.", param: "password")
        }
    }

    public func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time a real check would, so an unknown email answers as slowly as a wrong password.
    func verifyNothing(_ password: String) async throws {
        _ = try await verify(password, against: decoy)
    }

    private var decoy: String { "$2b$\(cost < 10 ? "0" : "")\(cost)$" + String(repeating: "a", count: 53) }
}
