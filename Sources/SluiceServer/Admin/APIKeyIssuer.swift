import Foundation
import SluiceStore

/// Creates user API keys. The plain key is returned once and never stored: the store keeps its
/// SHA-256 and a short prefix for people to recognise it by.
public enum APIKeyIssuer {
    public struct Issued: Sendable {
        public var id: Int64
        public var key: String
        public var prefix: String
    }

    public static func issue(
        store: any APIKeyStore, userID: Int64, name: String, limits: APIKeyLimits = APIKeyLimits()
    ) async throws -> Issued {
        try await issue { hash, prefix in
            try await store.createAPIKey(userID: userID, name: name, keyHash: hash, prefix: prefix, limits: limits)
        }
    }

    /// Makes a key and stores it with `save(hash, prefix)`, which returns the new row's id.
    static func issue(save: (String, String) async throws -> Int64) async throws -> Issued {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        // 43 characters of a 62-letter alphabet: about 256 bits.
        let body = String((0..<43).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        let key = "sk-sluice-" + body
        let prefix = String(key.prefix(14))
        let id = try await save(KeyAuthenticator.hash(key), prefix)
        return Issued(id: id, key: key, prefix: prefix)
    }
}
