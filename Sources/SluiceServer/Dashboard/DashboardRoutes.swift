import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceStore

/// The web dashboard: `/` (users), `/admin` (admins) and `/assets/…`, plain HTML, CSS and
/// JavaScript modules from the repository's `Dashboard/` directory, read once at start. A path is
/// looked up among the files read, so no part of a URL ever reaches the file system.
///
/// Every page is sent with a Content-Security-Policy that allows scripts and styles from this
/// origin only (no inline ones), no framing, and no other origin to connect to. `/admin` is
/// served only to a signed-in admin: the server refuses it, not just the page's script.
struct DashboardRoutes: Sendable {
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }

    let assets: [String: Asset]
    let tokens: AccessTokens
    let store: any GatewayStore

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff", .xFrameOptions: "DENY", .referrerPolicy: "no-referrer", .cacheControl: "no-cache",
    ]
    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon", "json": "application/json",
    ]

    /// Reads every file of `directory` whose type is served; nil when there is no such directory.
    static func load(directory: String, logger: Logger) -> [String: Asset]? {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return nil }
        var assets: [String: Asset] = [:]
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                let type = contentTypes[url.pathExtension.lowercased()], let data = try? Data(contentsOf: url)
            else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count))
            assets[relative] = Asset(bytes: ByteBuffer(data: data), contentType: type)
        }
        logger.info("dashboard loaded", metadata: ["directory": "\(directory)", "files": "\(assets.count)"])
        return assets
    }

    func register(on router: Router<SluiceRequestContext>) {
        router.get("/") { _, _ in try page("/index.html") }
        router.get("/admin") { request, _ in try await admin(request) }
        router.get("/assets/**") { request, _ in
            guard request.uri.path.hasPrefix("/assets/"), let asset = assets[request.uri.path] else {
                throw GatewayError.notFound("No such file.")
            }
            return Self.response(asset)
        }
    }

    private func page(_ path: String) throws -> Response {
        guard let asset = assets[path] else { throw GatewayError.notFound("The dashboard is not installed with this gateway.") }
        return Self.response(asset)
    }

    /// The admin page for a signed-in admin; anyone else is sent to sign in, or told no.
    private func admin(_ request: Request) async throws -> Response {
        guard let token = BrowserSession.accessToken(request),
            let (user, _) = try? await SignInMiddleware.user(signedInBy: token, tokens: tokens, store: store)
        else {
            var headers = Self.securityHeaders
            headers[.location] = "/#/signin?next=admin"
            return Response(status: .seeOther, headers: headers)
        }
        guard user.role == .admin else { return try page("/forbidden.html").with(status: .forbidden) }
        return try page("/admin.html")
    }

    static func response(_ asset: Asset) -> Response {
        var headers = securityHeaders
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.bytes))
    }
}

extension Response {
    fileprivate func with(status: HTTPResponse.Status) -> Response {
        var copy = self
        copy.status = status
        return copy
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
