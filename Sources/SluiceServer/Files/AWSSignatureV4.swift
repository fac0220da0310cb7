import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests whose payload travels in one piece. S3 and the
/// stores that copy its API (MinIO, R2, Ceph) all accept it, so this is the only signing Sluice
/// needs. The algorithm is AWS's "Signature Calculations for the Authorization Header"; the tests
/// check it against the examples AWS publishes there.
struct AWSSignatureV4: Sendable {
    var accessKeyID: String
    var secretAccessKey: String
    var region: String
    var service: String = "s3"

    static let algorithm = "AWS4-HMAC-SHA256"

    /// The headers to add to a request: x-amz-date, x-amz-content-sha256 and authorization.
    ///
    /// `path` is not yet percent-encoded; the request must carry it encoded as `uriEncode` does,
    /// and `host` must be the Host header exactly as it is sent. `headers` are other headers to
    /// sign, which the request must carry with the same values.
    func sign(
        method: String, host: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
        payloadSHA256: String, date: Date
    ) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        let canonical = canonicalRequest(
            method: method, host: host, path: path, query: query, headers: headers, payloadSHA256: payloadSHA256, amzDate: amzDate)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.sha256Hex(Array(canonical.text.utf8))].joined(separator: "\n")
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        let authorization = "\(Self.algorithm) Credential=\(accessKeyID)/\(scope), SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return [("x-amz-date", amzDate), ("x-amz-content-sha256", payloadSHA256), ("authorization", authorization)]
    }

    /// The canonical request and its signed-header list. Apart from `sign` only the tests call it,
    /// to compare with the canonical requests AWS prints in its examples.
    func canonicalRequest(
        method: String, host: String, path: String, query: [(String, String)], headers: [(String, String)], payloadSHA256: String,
        amzDate: String
    ) -> (text: String, signedHeaders: String) {
        // Names are lowercased; a name given twice keeps both values, comma-separated. Ours win
        // over a caller's, since the request carries ours.
        var values: [String: [String]] = [:]
        for (name, value) in headers { values[name.lowercased(), default: []].append(Self.trimmed(value)) }
        values["host"] = [host]
        values["x-amz-content-sha256"] = [payloadSHA256]
        values["x-amz-date"] = [amzDate]
        let names = values.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let encodedQuery: [(name: String, value: String)] = query.map { name, value in
            (Self.uriEncode(name, keepSlash: false), Self.uriEncode(value, keepSlash: false))
        }
        let sortedQuery = encodedQuery.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sortedQuery.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
        let canonicalURI = path.isEmpty ? "/" : Self.uriEncode(path, keepSlash: true)
        let text = [method, canonicalURI, canonicalQuery, canonicalHeaders, signedHeaders, payloadSHA256].joined(separator: "\n")
        return (text, signedHeaders)
    }

    /// The HMAC chain from the secret: a key bound to one day, region and service, so a leaked
    /// one is worth little.
    private func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key))
        }
        return key
    }

    /// AWS's percent-encoding: unreserved characters (letters, digits, `-_.~`) stay, every other
    /// byte of the UTF-8 becomes `%XX` in capitals. S3 keeps `/` in paths; query parts encode it.
    /// Foundation's encoders differ in which characters they leave, so this is spelled out.
    static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out.append("%")
                out.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte & 0x0F)]))
            }
        }
        return out
    }

    /// Lowercase hex of the SHA-256 of `bytes`: the payload hash S3 wants in x-amz-content-sha256.
    static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        var hasher = SHA256()
        let hashed: Void? = bytes.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if hashed == nil { hasher.update(data: Array(bytes)) }
        return hex(hasher.finalize())
    }

    /// The hash of no bytes, for requests without a body.
    static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in bytes {
            out.unicodeScalars.append(Unicode.Scalar(lowerHexDigits[Int(byte >> 4)]))
            out.unicodeScalars.append(Unicode.Scalar(lowerHexDigits[Int(byte & 0x0F)]))
        }
        return out
    }

    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)
    private static let lowerHexDigits = Array("0123456789abcdef".utf8)

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd` in UTC, built from calendar fields: a DateFormatter
    /// would follow the process's locale and calendar unless told not to.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        // Whole seconds first, so that no calendar rounds 59.9 up into the next minute.
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        func pad(_ value: Int?, _ width: Int) -> String {
            let digits = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let day = pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2)
        return (day + "T" + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z", day)
    }

    /// Trimmed at both ends, runs of spaces inside made one: AWS's rule for header values.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }
}
