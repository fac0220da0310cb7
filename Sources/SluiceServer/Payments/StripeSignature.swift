import Crypto
import Foundation

/// Checks a webhook's `Stripe-Signature` header as Stripe signs it: `t=<unix seconds>` and one or
/// more `v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. Several `v1` values come while a signing
/// secret is rolled; one that any configured secret made is enough. `v0` and other schemes are
/// ignored, as Stripe's libraries ignore them.
struct StripeSignature {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed
        case stale
        case mismatch

        var description: String {
            switch self {
            case .malformed: "The Stripe-Signature header is missing or malformed."
            case .stale: "The Stripe-Signature timestamp is outside the tolerance."
            case .mismatch: "No v1 signature in Stripe-Signature matches the signing secret."
            }
        }
    }

    let secrets: [String]
    let tolerance: TimeInterval

    func verify(header: String?, body: some DataProtocol, now: Date) throws(Failure) {
        guard let header else { throw .malformed }
        var timestamp: Int64?
        var signatures: [Data] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if name == "t" { timestamp = Int64(value) }
            if name == "v1", let bytes = Self.hexBytes(value) { signatures.append(bytes) }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformed }
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else { throw .stale }
        var payload = Data("\(timestamp).".utf8)
        payload.append(contentsOf: body)
        for secret in secrets {
            let key = SymmetricKey(data: Data(secret.utf8))
            // `isValidAuthenticationCode` compares in constant time.
            if signatures.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: payload, using: key) }) { return }
        }
        throw .mismatch
    }

    /// The header for `body` at `timestamp` under `secret`: how Sluice signs its own webhooks, so
    /// their receivers can reuse a Stripe verifier.
    static func header(body: String, secret: String, timestamp: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func hexBytes(_ text: String) -> Data? {
        guard text.count == 64 else { return nil }
        var bytes = Data(capacity: 32)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
