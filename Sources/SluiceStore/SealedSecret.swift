import Crypto
import Foundation

/// An account secret encrypted at rest: AES-GCM's combined nonce, ciphertext and tag, and the
/// version of the key that sealed it, so keys can be rotated without re-encrypting at once.
public struct SealedSecret: Sendable, Equatable {
    public var ciphertext: Data
    public var keyVersion: Int

    public init(ciphertext: Data, keyVersion: Int) {
        self.ciphertext = ciphertext
        self.keyVersion = keyVersion
    }
}

/// Seals and opens account secrets with versioned AES-256-GCM keys from config.
public struct SecretBox: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    // Raw key bytes rather than `SymmetricKey`, which swift-crypto does not mark Sendable.
    private let keys: [Int: Data]
    private let activeVersion: Int

    /// `keys` maps a version to 32 raw key bytes; new secrets are sealed with `activeVersion`.
    public init(keys: [Int: Data], activeVersion: Int) throws {
        guard keys[activeVersion] != nil else { throw Error(description: "no encryption key for active version \(activeVersion)") }
        guard keys.values.allSatisfy({ $0.count == 32 }) else { throw Error(description: "encryption keys must be 32 bytes (base64 of 32 random bytes)") }
        self.keys = keys
        self.activeVersion = activeVersion
    }

    public func seal(_ plaintext: String) throws -> SealedSecret {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: SymmetricKey(data: keys[activeVersion] ?? Data()))
        guard let combined = box.combined else { throw Error(description: "AES-GCM produced no combined form") }
        return SealedSecret(ciphertext: combined, keyVersion: activeVersion)
    }

    public func open(_ sealed: SealedSecret) throws -> String {
        guard let key = keys[sealed.keyVersion] else { throw Error(description: "no encryption key for version \(sealed.keyVersion)") }
        let box = try AES.GCM.SealedBox(combined: sealed.ciphertext)
        return String(decoding: try AES.GCM.open(box, using: SymmetricKey(data: key)), as: UTF8.self)
    }

    /// A fresh random key, base64-encoded: for the demo and for `sluice` to suggest one.
    public static func generateKeyBase64() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }
}
