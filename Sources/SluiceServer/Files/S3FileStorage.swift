import Foundation
import NIOCore
import NIOHTTP1
import SluiceProviders

/// Files in an S3 bucket, or in any store that speaks S3's API (MinIO, R2, Ceph): what several
/// instances share without a shared volume. Requests go over the gateway's own HTTP client,
/// signed with Signature Version 4.
///
/// URLs are path-style, `<endpoint>/<bucket>/<key>`: every S3-compatible store takes them, and
/// the endpoint's host stays the one name TLS checks, whatever the bucket is called.
struct S3FileStorage: FileStorage {
    let endpoint: String
    let bucket: String
    let signer: AWSSignatureV4
    let http: UpstreamHTTPClient
    let timeout: TimeAmount
    /// The largest object read back. Sluice writes no larger ones; the bound keeps a wrong bucket
    /// or a hostile store from filling memory.
    let maxObjectBytes: Int

    /// `scheme://host[:port]`, without the endpoint's path.
    private let origin: String
    /// The endpoint's path, if it has one (a store behind a path prefix), without a trailing `/`.
    private let basePath: String
    /// The Host header as `UpstreamHTTPClient` will send it: the port only when not the scheme's
    /// default. The signature covers it, so it must match to the byte.
    private let hostHeader: String

    /// Throws when `endpoint` is not an http or https URL, or `bucket` is not a usable bucket name.
    init(
        endpoint: String, bucket: String, signer: AWSSignatureV4, http: UpstreamHTTPClient, timeout: TimeAmount = .seconds(30),
        maxObjectBytes: Int
    ) throws {
        guard let components = URLComponents(string: endpoint), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", var host = components.host, !host.isEmpty
        else { throw FileStorageError(description: "The S3 endpoint must be an http or https URL.") }
        guard Self.isBucketName(bucket) else { throw FileStorageError(description: "The S3 bucket name is not valid.") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let hostName = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port ?? defaultPort
        self.endpoint = endpoint
        self.bucket = bucket
        self.signer = signer
        self.http = http
        self.timeout = timeout
        self.maxObjectBytes = maxObjectBytes
        origin = "\(scheme)://\(hostName)" + (components.port.map { ":\($0)" } ?? "")
        hostHeader = port == defaultPort ? hostName : "\(hostName):\(port)"
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
    }

    func put(key: String, bytes: ByteBuffer) async throws {
        try FileStorageKey.check(key)
        let response = try await send(.PUT, key: key, body: bytes, headers: [("content-type", "application/octet-stream")])
        guard (200..<300).contains(response.status) else { throw Self.failure("PUT", response) }
    }

    func get(key: String) async throws -> ByteBuffer? {
        try FileStorageKey.check(key)
        let response = try await send(.GET, key: key)
        switch response.status {
        case 200:
            // The read allows room for error documents; an object must also fit the object limit.
            guard response.body.readableBytes <= maxObjectBytes else {
                throw FileStorageError(description: "S3 GET answered more than \(maxObjectBytes) bytes.")
            }
            return response.body
        case 404: return nil
        default: throw Self.failure("GET", response)
        }
    }

    func delete(key: String) async throws {
        try FileStorageKey.check(key)
        let response = try await send(.DELETE, key: key)
        guard [200, 204, 404].contains(response.status) else { throw Self.failure("DELETE", response) }
    }

    /// Makes the bucket at start-up, so a fresh MinIO or a new deployment needs no manual step.
    /// A bucket this account already owns is fine; one owned by another account is not.
    ///
    /// Outside us-east-1, AWS wants the region named in the body, or it refuses the request.
    func createBucketIfMissing() async throws {
        var body: ByteBuffer?
        var headers: [(String, String)] = []
        if signer.region != "us-east-1" {
            body = ByteBuffer(
                string: #"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
                    + "<LocationConstraint>\(signer.region)</LocationConstraint></CreateBucketConfiguration>")
            headers = [("content-type", "application/xml")]
        }
        let response = try await send(.PUT, key: nil, body: body, headers: headers)
        if (200..<300).contains(response.status) { return }
        if response.status == 409, Self.errorCode(response.body) == "BucketAlreadyOwnedByYou" { return }
        throw Self.failure("PUT bucket", response)
    }

    /// One signed request, its answer read whole (up to `maxObjectBytes`, and never less than
    /// enough for an error document).
    private func send(
        _ method: HTTPMethod, key: String?, body: ByteBuffer? = nil, headers extra: [(String, String)] = []
    ) async throws -> (status: Int, body: ByteBuffer) {
        let path = basePath + "/" + bucket + (key.map { "/" + $0 } ?? "")
        let payloadHash = body.map { AWSSignatureV4.sha256Hex($0.readableBytesView) } ?? AWSSignatureV4.emptyPayloadSHA256
        let signed = signer.sign(
            method: method.rawValue, host: hostHeader, path: path, headers: extra, payloadSHA256: payloadHash, date: Date())
        var headers = HTTPHeaders()
        for (name, value) in extra + signed { headers.add(name: name, value: value) }
        let url = origin + AWSSignatureV4.uriEncode(path, keepSlash: true)
        do {
            let response = try await http.execute(method, url: url, headers: headers, body: body, headTimeout: timeout)
            let bytes = try await response.body.collect(upTo: max(maxObjectBytes, 1 << 16))
            return (response.status, bytes)
        } catch let error as UpstreamTransportError {
            throw FileStorageError(description: "S3 \(method.rawValue) failed: \(error).")
        } catch let error as UpstreamBodyTooLarge {
            throw FileStorageError(description: "S3 \(method.rawValue) answered more than \(error.limit) bytes.")
        }
    }

    /// The status and S3's error code. Never the body as a whole: S3 echoes the request's string
    /// to sign and access key ID in some errors, and these messages reach logs.
    private static func failure(_ what: String, _ response: (status: Int, body: ByteBuffer)) -> FileStorageError {
        let code = errorCode(response.body) ?? "no error code"
        return FileStorageError(description: "S3 \(what) answered HTTP \(response.status): \(code).")
    }

    /// `<Code>` of an S3 error document, read from its first 200 bytes (the code comes early) and
    /// kept only if it looks like one: letters and digits.
    static func errorCode(_ body: ByteBuffer) -> String? {
        let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
        guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>", range: start.upperBound..<text.endIndex)
        else { return nil }
        let code = text[start.upperBound..<end.lowerBound]
        let isCode = code.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            default: false
            }
        }
        guard isCode, !code.isEmpty, code.utf8.count <= 64 else { return nil }
        return String(code)
    }

    /// S3's rules for names, loosened to what older us-east-1 buckets allowed (capitals and `_`):
    /// what matters here is that a name is one path segment and cannot climb out of it.
    static func isBucketName(_ name: String) -> Bool {
        guard (1...255).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"): true
            default: false
            }
        }
    }
}
