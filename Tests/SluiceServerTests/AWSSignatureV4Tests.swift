import Foundation
import NIOCore
@testable import SluiceServer
import Testing

/// The signer against the examples AWS publishes in "Signature Calculations for the Authorization
/// Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)". A signature either
/// matches to the byte or S3 refuses the request, so these are the whole specification.
@Suite struct AWSSignatureV4Tests {
    static let signer = AWSSignatureV4(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    static let host = "examplebucket.s3.amazonaws.com"
    /// 20130524T000000Z, the examples' moment.
    static let date = Date(timeIntervalSince1970: 1_369_353_600)
    static let credential = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

    static func header(_ name: String, _ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == name }?.1
    }

    @Test func getObject() {
        let signed = Self.signer.sign(
            method: "GET", host: Self.host, path: "/test.txt", headers: [("Range", "bytes=0-9")],
            payloadSHA256: AWSSignatureV4.emptyPayloadSHA256, date: Self.date)
        #expect(AWSSignatureV4.sha256Hex([UInt8]()) == AWSSignatureV4.emptyPayloadSHA256)
        #expect(Self.header("x-amz-date", signed) == "20130524T000000Z")
        #expect(Self.header("x-amz-content-sha256", signed) == AWSSignatureV4.emptyPayloadSHA256)
        #expect(
            Self.header("authorization", signed)
                == Self.credential + ", SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                + " Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObject() {
        let payload = AWSSignatureV4.sha256Hex(Array("Welcome to Amazon S3.".utf8))
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let headers = [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")]
        // The canonical request AWS prints for this example: `$` encoded, headers sorted.
        let canonical = Self.signer.canonicalRequest(
            method: "PUT", host: Self.host, path: "/test$file.text", query: [], headers: headers, payloadSHA256: payload,
            amzDate: "20130524T000000Z")
        #expect(
            canonical.text == """
                PUT
                /test%24file.text

                date:Fri, 24 May 2013 00:00:00 GMT
                host:examplebucket.s3.amazonaws.com
                x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                x-amz-date:20130524T000000Z
                x-amz-storage-class:REDUCED_REDUNDANCY

                date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class
                44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
                """)
        let signed = Self.signer.sign(
            method: "PUT", host: Self.host, path: "/test$file.text", headers: headers, payloadSHA256: payload, date: Self.date)
        #expect(
            Self.header("authorization", signed)
                == Self.credential + ", SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
                + " Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    /// The same page's two examples with a query: a name without a value, and two sorted pairs.
    @Test func queries() {
        let lifecycle = Self.signer.sign(
            method: "GET", host: Self.host, path: "/", query: [("lifecycle", "")], payloadSHA256: AWSSignatureV4.emptyPayloadSHA256,
            date: Self.date)
        #expect(Self.header("authorization", lifecycle)?.hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") == true)
        let list = Self.signer.sign(
            method: "GET", host: Self.host, path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            payloadSHA256: AWSSignatureV4.emptyPayloadSHA256, date: Self.date)
        #expect(Self.header("authorization", list)?.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    @Test func encodingAndDates() {
        #expect(AWSSignatureV4.uriEncode("/a b/ü~-_.*", keepSlash: true) == "/a%20b/%C3%BC~-_.%2A")
        #expect(AWSSignatureV4.uriEncode("a/b=c", keepSlash: false) == "a%2Fb%3Dc")
        // Fractions of a second are dropped, not rounded into the next second.
        let stamps = AWSSignatureV4.timestamps(Date(timeIntervalSince1970: 1_704_067_199.9))
        #expect(stamps.amzDate == "20231231T235959Z" && stamps.day == "20231231")
    }

    @Test func localStorageRoundTripsAndRefusesOddKeys() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-files-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let storage = LocalFileStorage(root: root.path)
        for key in ["..", "../escape", "a/../b", "/absolute", "a//b", "a/", ".hidden", "a/.b", "", "a b", "é"] {
            await #expect(throws: FileStorageError.self, "key \(key)") { try await storage.put(key: key, bytes: ByteBuffer(string: "x")) }
            await #expect(throws: FileStorageError.self, "key \(key)") { _ = try await storage.get(key: key) }
        }
        #expect(!FileManager.default.fileExists(atPath: root.deletingLastPathComponent().appendingPathComponent("escape").path))

        #expect(try await storage.get(key: "files/missing") == nil)
        try await storage.delete(key: "files/missing")

        let bytes = ByteBuffer(bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try await storage.put(key: "files/u1/file-abc_1", bytes: bytes)
        #expect(try await storage.get(key: "files/u1/file-abc_1") == bytes)
        try await storage.put(key: "files/u1/file-abc_1", bytes: ByteBuffer(string: "replaced"))
        #expect(try await storage.get(key: "files/u1/file-abc_1") == ByteBuffer(string: "replaced"))
        // Only the file itself: no temporary left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("files/u1").path) == ["file-abc_1"])

        try await storage.delete(key: "files/u1/file-abc_1")
        #expect(try await storage.get(key: "files/u1/file-abc_1") == nil)
    }

    @Test func s3ErrorsNameTheCodeOnly() {
        let body = ByteBuffer(string: """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>\
            <AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId></Error>
            """)
        #expect(S3FileStorage.errorCode(body) == "SignatureDoesNotMatch")
        #expect(S3FileStorage.errorCode(ByteBuffer(string: "<html>Bad Gateway</html>")) == nil)
        #expect(S3FileStorage.isBucketName("sluice-files") && !S3FileStorage.isBucketName("..") && !S3FileStorage.isBucketName("a/b"))
    }
}
