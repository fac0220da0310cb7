import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SluiceServer
import Testing

/// `/api/files`: uploads kept in a local directory or an S3 bucket (moto), inside each user's
/// limits, served back as attachments to their owner only.
@Suite struct FileAPITests {
    static let boundary = "sluice-test-7MA4YWxkTrZu0gW"
    static let formType = "multipart/form-data; boundary=\(boundary)"

    /// A `multipart/form-data` body with one part; `disposition` replaces the part's whole
    /// Content-Disposition value when given.
    static func form(
        _ bytes: Data, filename: String? = "notes.txt", name: String = "file", type: String? = "text/plain", disposition: String? = nil
    ) -> Data {
        var head = "--\(boundary)\r\nContent-Disposition: "
        head += disposition ?? ("form-data; name=\"\(name)\"" + (filename.map { "; filename=\"\($0)\"" } ?? ""))
        head += "\r\n" + (type.map { "Content-Type: \($0)\r\n" } ?? "") + "\r\n"
        return Data(head.utf8) + bytes + Data("\r\n--\(boundary)--\r\n".utf8)
    }

    /// Text and every byte value, so the round trip is checked for binary content too.
    static let content = Data("Hello, Sluice files!\n".utf8) + Data((0...255).map(UInt8.init))

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
    static func md5(_ data: Data) -> String { Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    /// Every regular file under `directory` (hidden ones too: a stray temporary would count).
    static func storedFiles(_ directory: String) -> [String] {
        let manager = FileManager.default
        let paths = (try? manager.subpathsOfDirectory(atPath: directory)) ?? []
        return paths.map { directory + "/" + $0 }.filter { path in
            (try? manager.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular
        }
    }

    static func temporaryDirectory() -> String { NSTemporaryDirectory() + "sluice-files-\(UUID().uuidString)" }

    /// An error in OpenAI's shape: `error.message` and `error.type`, and the code and param asked for.
    static func expectError(
        _ reply: Harness.Reply, status: Int, code: String? = nil, param: String? = nil, _ what: Comment = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == status, "\(what) \(reply.text)", sourceLocation: sourceLocation)
        #expect((reply.error?["message"] as? String)?.isEmpty == false, "\(what) \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.error?["type"] is String, "\(what) \(reply.text)", sourceLocation: sourceLocation)
        if let code { #expect(reply.errorCode == code, "\(what) \(reply.text)", sourceLocation: sourceLocation) }
        if let param { #expect(reply.error?["param"] as? String == param, "\(what) \(reply.text)", sourceLocation: sourceLocation) }
    }

    // MARK: Local storage

    @Test func aFileIsUploadedListedDownloadedAndDeletedByItsOwnerOnly() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: { $0.files.directory = directory }) { h in
            let alice = try await h.signUp()
            let uploaded = try await h.upload(Self.form(Self.content), as: alice)
            #expect(uploaded.status == 201, "\(uploaded.text)")
            let id = try #require(uploaded.json?["id"] as? Int)
            #expect(uploaded.json?["name"] as? String == "notes.txt")
            #expect(uploaded.json?["size"] as? Int == Self.content.count)
            #expect(uploaded.json?["sha256"] as? String == Self.sha256(Self.content))
            #expect(uploaded.json?["content_type"] as? String == "text/plain")
            #expect(uploaded.json?["created_at"] is String)

            #expect(try await h.api("/api/files", as: alice).list.map { $0["id"] as? Int } == [id])
            let info = try await h.api("/api/files/\(id)", as: alice)
            #expect(info.status == 200)
            #expect(info.json?["name"] as? String == "notes.txt" && info.json?["sha256"] as? String == Self.sha256(Self.content))
            let quota = try await h.api("/api/files/quota", as: alice)
            #expect(quota.json?["used_bytes"] as? Int == Self.content.count)
            #expect(quota.json?["quota_bytes"] as? Int == h.config.files.userQuotaBytes)
            #expect(quota.json?["max_file_bytes"] as? Int == h.config.files.maxFileBytes)

            let download = try await h.api("/api/files/\(id)/content", as: alice)
            #expect(download.status == 200)
            #expect(download.body == Self.content)
            #expect(download.headers.first(name: "content-type") == "application/octet-stream")
            #expect(download.headers.first(name: "content-disposition") == #"attachment; filename="notes.txt"; filename*=UTF-8''notes.txt"#)
            #expect(download.headers.first(name: "x-content-type-options") == "nosniff")
            #expect(download.headers.first(name: "etag") == "\"\(Self.sha256(Self.content))\"")

            // The bytes are one file under the directory, named by a key Sluice made, not by the user.
            let stored = Self.storedFiles(directory)
            #expect(stored.count == 1)
            #expect(stored.allSatisfy { !$0.contains("notes") })
            #expect(stored.first.flatMap { FileManager.default.contents(atPath: $0) } == Self.content)

            // Another user's file is one that does not exist.
            let bob = try await h.signUp()
            for (method, path) in [(NIOHTTP1.HTTPMethod.GET, "/api/files/\(id)"), (.GET, "/api/files/\(id)/content"), (.DELETE, "/api/files/\(id)")] {
                let reply = try await h.api(path, method: method, as: bob)
                Self.expectError(reply, status: 404, "\(method) \(path)")
                #expect(reply.error?["message"] as? String == "No such file.")
            }
            #expect(try await h.api("/api/files", as: bob).list.isEmpty)
            #expect(try await h.api("/api/files/quota", as: bob).json?["used_bytes"] as? Int == 0)
            #expect(try await h.api("/api/files/\(id)/content", as: alice).body == Self.content)
            // Without a token there is nothing at all.
            #expect(try await h.upload(Self.form(Self.content), as: nil).status == 401)
            #expect(try await h.api("/api/files/\(id)", as: nil).status == 401)

            #expect(try await h.api("/api/files/\(id)", method: .DELETE, as: alice).status == 204)
            Self.expectError(try await h.api("/api/files/\(id)", as: alice), status: 404)
            Self.expectError(try await h.api("/api/files/\(id)/content", as: alice), status: 404)
            Self.expectError(try await h.api("/api/files/\(id)", method: .DELETE, as: alice), status: 404)
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)
            #expect(try await h.api("/api/files/quota", as: alice).json?["used_bytes"] as? Int == 0)
            #expect(Self.storedFiles(directory).isEmpty)
        }
    }

    @Test func namesAreKeptAsSentListedNewestFirstAndSentBackSafely() async throws {
        try await Harness.run { h in
            let alice = try await h.signUp()
            let first = try await h.upload(Self.form(Data("one".utf8), filename: "plain.bin", type: nil), as: alice)
            #expect(first.status == 201, "\(first.text)")
            // No Content-Type on the part, or one that is not a media type: octet-stream.
            #expect(first.json?["content_type"] as? String == "application/octet-stream")
            let odd = try await h.upload(Self.form(Data("odd".utf8), filename: "odd.txt", type: "<script>"), as: alice)
            #expect(odd.json?["content_type"] as? String == "application/octet-stream")
            // RFC 5987's filename* wins over filename, and comes back in both forms.
            let accented = try await h.upload(
                Self.form(Data("two".utf8), disposition: #"form-data; name="file"; filename="resume.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9 v2.txt"#),
                as: alice)
            #expect(accented.status == 201, "\(accented.text)")
            let id = try #require(accented.json?["id"] as? Int)
            #expect(accented.json?["name"] as? String == "résumé v2.txt")
            let download = try await h.api("/api/files/\(id)/content", as: alice)
            #expect(download.body == Data("two".utf8))
            #expect(download.headers.first(name: "content-disposition") == #"attachment; filename="r_sum_ v2.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2.txt"#)

            let page = try await h.api("/api/files?limit=2", as: alice)
            #expect(page.list.map { $0["name"] as? String } == ["résumé v2.txt", "odd.txt"])
            let cursor = try #require(page.json?["next_cursor"] as? Int)
            let rest = try await h.api("/api/files?limit=2&cursor=\(cursor)", as: alice)
            #expect(rest.list.map { $0["name"] as? String } == ["plain.bin"])
            #expect(rest.json?["next_cursor"] is NSNull)
        }
    }

    @Test func anEmptyFileAnUnnamedOneAndAFormWithOtherFieldsAreKept() async throws {
        try await Harness.run { h in
            let alice = try await h.signUp()
            let empty = try await h.upload(Self.form(Data(), filename: "empty.txt"), as: alice)
            #expect(empty.status == 201, "\(empty.text)")
            #expect(empty.json?["size"] as? Int == 0 && empty.json?["sha256"] as? String == Self.sha256(Data()))
            let emptyID = try #require(empty.json?["id"] as? Int)
            let download = try await h.api("/api/files/\(emptyID)/content", as: alice)
            #expect(download.status == 200 && download.body.isEmpty)

            // A part without a filename (a program posting bytes) is named "upload".
            let unnamed = try await h.upload(Self.form(Data("raw".utf8), filename: nil), as: alice)
            #expect(unnamed.status == 201 && unnamed.json?["name"] as? String == "upload", "\(unnamed.text)")

            // Fields before and after the file part are skipped; the boundary may be quoted.
            let field = { (name: String, value: String) in
                Data("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
            }
            let body = field("purpose", "assistants") + Self.form(Self.content).dropLast("--\(Self.boundary)--\r\n".utf8.count)
                + field("note", "after") + Data("--\(Self.boundary)--\r\n".utf8)
            let mixed = try await h.upload(body, contentType: "Multipart/Form-Data; Boundary=\"\(Self.boundary)\"", as: alice)
            #expect(mixed.status == 201, "\(mixed.text)")
            let id = try #require(mixed.json?["id"] as? Int)
            #expect(mixed.json?["name"] as? String == "notes.txt" && mixed.json?["size"] as? Int == Self.content.count)
            #expect(try await h.api("/api/files/\(id)/content", as: alice).body == Self.content)
        }
    }

    @Test func aNameWithASemicolonOrAQuoteIsKeptWhole() async throws {
        try await Harness.run { h in
            let alice = try await h.signUp()
            // Browsers send a name's `;` as is inside the quoted filename.
            let reply = try await h.upload(Self.form(Data("x".utf8), filename: "notes; draft.txt"), as: alice)
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.json?["name"] as? String == "notes; draft.txt", "\(reply.text)")
            let quoted = try await h.upload(Self.form(Data("x".utf8), filename: #"say \"hi\".txt"#), as: alice)
            #expect(quoted.json?["name"] as? String == #"say "hi".txt"#, "\(quoted.text)")
        }
    }

    @Test func anAlteredOrMissingFileIsNotServedAndStillDeletes() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: { $0.files.directory = directory }) { h in
            let alice = try await h.signUp()
            let id = try #require(try await h.upload(Self.form(Self.content), as: alice).json?["id"] as? Int)
            let stored = try #require(Self.storedFiles(directory).first)
            try Data("tampered".utf8).write(to: URL(fileURLWithPath: stored))
            Self.expectError(try await h.api("/api/files/\(id)/content", as: alice), status: 503)
            try FileManager.default.removeItem(atPath: stored)
            Self.expectError(try await h.api("/api/files/\(id)/content", as: alice), status: 503)
            #expect(try await h.api("/api/files/\(id)", method: .DELETE, as: alice).status == 204)
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)
        }
    }

    // MARK: Refusals

    @Test func pathLikeOrControlCharacterNamesAreRefusedAndNothingIsStored() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: { $0.files.directory = directory }) { h in
            let alice = try await h.signUp()
            let names = ["../../etc/passwd", "a/b.txt", "..", ".", "x\\y", "/etc/passwd", "bad\u{01}name.txt", "tab\tname.txt", "", String(repeating: "n", count: 256)]
            for name in names {
                Self.expectError(try await h.upload(Self.form(Self.content, filename: name), as: alice), status: 400, param: "file", "filename \(name.debugDescription)")
            }
            // The same names as RFC 5987 would send them, percent-encoded.
            for encoded in ["..%2F..%2Fetc%2Fpasswd", "..", "x%5Cy", "bad%00name", "a%0Ab"] {
                let form = Self.form(Self.content, disposition: #"form-data; name="file"; filename="ok.txt"; filename*=UTF-8''\#(encoded)"#)
                Self.expectError(try await h.upload(form, as: alice), status: 400, param: "file", "filename* \(encoded)")
            }
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)
            #expect(try await h.api("/api/files/quota", as: alice).json?["used_bytes"] as? Int == 0)
            #expect(Self.storedFiles(directory).isEmpty)
        }
    }

    @Test func aFileOverTheSizeLimitIsRefusedWith413() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: {
            $0.files.directory = directory
            $0.files.maxFileBytes = 1000
        }) { h in
            let alice = try await h.signUp()
            for size in [5000, 1001] {
                let reply = try await h.upload(Self.form(Data(repeating: 0x61, count: size)), as: alice)
                Self.expectError(reply, status: 413, code: "file_too_large", param: "file", "\(size) bytes")
            }
            // Far past the limit: refused while the body is still arriving.
            let huge = try await h.upload(Self.form(Data(repeating: 0x62, count: 4 << 20)), as: alice)
            Self.expectError(huge, status: 413, code: "file_too_large", param: "file", "4 MiB")
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)
            #expect(Self.storedFiles(directory).isEmpty)
            // The limit itself is allowed.
            let fits = try await h.upload(Self.form(Data(repeating: 0x61, count: 1000)), as: alice)
            #expect(fits.status == 201 && fits.json?["size"] as? Int == 1000, "\(fits.text)")
            #expect(try await h.api("/api/files/quota", as: alice).json?["max_file_bytes"] as? Int == 1000)
        }
    }

    @Test func anUploadPastTheQuotaIsRefusedWith409() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: {
            $0.files.directory = directory
            $0.files.userQuotaBytes = 1500
        }) { h in
            let alice = try await h.signUp()
            #expect(try await h.upload(Self.form(Data(repeating: 1, count: 1000)), as: alice).status == 201)
            let over = try await h.upload(Self.form(Data(repeating: 2, count: 1000)), as: alice)
            Self.expectError(over, status: 409, code: "file_quota_exceeded")
            let quota = try await h.api("/api/files/quota", as: alice)
            #expect(quota.json?["used_bytes"] as? Int == 1000 && quota.json?["quota_bytes"] as? Int == 1500)
            #expect(try await h.api("/api/files", as: alice).list.count == 1)
            #expect(Self.storedFiles(directory).count == 1)
            // Exactly what is left fits; the quota is each user's own.
            #expect(try await h.upload(Self.form(Data(repeating: 3, count: 500)), as: alice).status == 201)
            #expect(try await h.api("/api/files/quota", as: alice).json?["used_bytes"] as? Int == 1500)
            #expect(try await h.upload(Self.form(Data(repeating: 4, count: 1000)), as: try await h.signUp()).status == 201)
        }
    }

    @Test func aBodyThatIsNoFormWithAFileIsRefusedWith400() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Harness.run(configure: { $0.files.directory = directory }) { h in
            let alice = try await h.signUp()
            let cases: [(String, Data, String)] = [
                ("JSON", Data(#"{"file":"aGVsbG8="}"#.utf8), "application/json"),
                ("no content type parameters", Self.form(Self.content), "multipart/form-data"),
                ("another multipart type", Self.form(Self.content), "multipart/mixed; boundary=\(Self.boundary)"),
                ("no boundary in the body", Data("just some text".utf8), Self.formType),
                ("no part named file", Self.form(Self.content, name: "document"), Self.formType),
                ("an unfinished part", Data("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc".utf8), Self.formType),
                ("an empty body", Data(), Self.formType),
            ]
            for (what, body, type) in cases {
                Self.expectError(try await h.upload(body, contentType: type, as: alice), status: 400, param: "file", "\(what)")
            }
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)
            #expect(Self.storedFiles(directory).isEmpty)
        }
    }

    // MARK: S3

    @Test func s3KeepsTheBytesUnderAKeyOfItsOwnUntilTheFileIsDeleted() async throws {
        let s3 = try await S3Server()
        defer { s3.stop() }
        try await Harness.run(configure: { s3.configure(&$0) }) { h in
            let alice = try await h.signUp()
            let uploaded = try await h.upload(Self.form(Self.content), as: alice)
            #expect(uploaded.status == 201, "\(uploaded.text)")
            let id = try #require(uploaded.json?["id"] as? Int)
            #expect(uploaded.json?["sha256"] as? String == Self.sha256(Self.content))

            // The object is the bytes as sent, under a key of the user's that is not the file's name.
            let objects = try await s3.objects()
            #expect(objects.count == 1)
            let object = try #require(objects.first)
            #expect(object.key.hasPrefix("u\(alice.userID)/") && !object.key.contains("notes"))
            #expect(object.size == Self.content.count && object.etag == Self.md5(Self.content))

            let download = try await h.api("/api/files/\(id)/content", as: alice)
            #expect(download.status == 200 && download.body == Self.content)
            #expect(download.headers.first(name: "content-disposition") == #"attachment; filename="notes.txt"; filename*=UTF-8''notes.txt"#)
            #expect(try await h.api("/api/files", as: alice).list.map { $0["id"] as? Int } == [id])
            Self.expectError(try await h.api("/api/files/\(id)/content", as: try await h.signUp()), status: 404)

            #expect(try await h.api("/api/files/\(id)", method: .DELETE, as: alice).status == 204)
            #expect(try await s3.objects().isEmpty)
            Self.expectError(try await h.api("/api/files/\(id)/content", as: alice), status: 404)
            #expect(try await h.api("/api/files", as: alice).list.isEmpty)

            // With the store gone, an upload is a 503 that records nothing.
            let kept = try #require(try await h.upload(Self.form(Data("kept".utf8)), as: alice).json?["id"] as? Int)
            s3.stop()
            Self.expectError(try await h.upload(Self.form(Self.content), as: alice), status: 503)
            Self.expectError(try await h.api("/api/files/\(kept)/content", as: alice), status: 503)
            #expect(try await h.api("/api/files", as: alice).list.map { $0["id"] as? Int } == [kept])
            #expect(try await h.api("/api/files/quota", as: alice).json?["used_bytes"] as? Int == 4)
        }
    }

    @Test(arguments: SluiceConfig.Files.Storage.allCases)
    func concurrentUploadsNeverPassTheQuota(storage: SluiceConfig.Files.Storage) async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let s3 = storage == .s3 ? try await S3Server() : nil
        defer { s3?.stop() }
        try await Harness.run(configure: { config in
            config.files.directory = directory
            s3?.configure(&config)
            config.files.userQuotaBytes = 500
        }) { h in
            let alice = try await h.signUp()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<10 {
                    group.addTask { try await h.upload(Self.form(Data(repeating: UInt8(index), count: 100), filename: "f\(index).txt"), as: alice).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 5, "\(statuses)")
            #expect(statuses.filter { $0 == 409 }.count == 5, "\(statuses)")
            #expect(try await h.api("/api/files/quota", as: alice).json?["used_bytes"] as? Int == 500)
            #expect(try await h.api("/api/files", as: alice).list.count == 5)
            // The refused uploads' bytes are not left behind.
            if let s3 {
                #expect(try await s3.objects().count == 5)
            } else {
                #expect(Self.storedFiles(directory).count == 5)
            }
        }
    }
}

extension Harness {
    /// POSTs `body` to `/api/files` as `contentType`, with the session's access token. Not
    /// `request(…)`: it always sends a JSON Content-Type, and a second Content-Type header would
    /// reach the server joined to the first ("application/json, multipart/form-data; …").
    func upload(_ body: Data, contentType: String = FileAPITests.formType, as session: Session?) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + "/api/files")
        request.method = .POST
        if let session { request.headers.add(name: "authorization", value: "Bearer \(session.access)") }
        request.headers.add(name: "content-type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
    }
}

import NIOHTTP1
