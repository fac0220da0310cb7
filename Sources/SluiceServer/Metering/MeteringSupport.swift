import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// What the metering routes share: the answer envelope the seed's clients read, and finding the
/// user a path names.
enum Metering {
    /// `{success, status, message, timestamp, data}`, as the seed's user service answers.
    struct Envelope<T: Encodable>: Encodable {
        var success = true
        var status = "success"
        var message: String
        var timestamp = Date()
        var data: T
    }

    static func envelope(_ message: String, _ data: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try APIJSON.response(Envelope(message: message, data: data), status: status)
    }

    static func envelopeSchema(_ data: Schema) -> Schema {
        .object([("success", .boolean), ("status", .text), ("message", .text), ("timestamp", .time), ("data", data)])
    }

    /// The `{user_id}` of a path, a Sluice id or an external id such as `auth0|123`
    /// (percent-encoded as `auth0%7C123`); a user who is not there is a 404, and so is any user
    /// but its own for a caller with a user's key.
    static func user(_ context: ServiceContext, store: any GatewayStore) async throws -> UserRecord {
        guard let raw = context.parameters.get("user_id"), let text = raw.removingPercentEncoding, !text.isEmpty else {
            throw GatewayError.notFound("No such user.")
        }
        let user = try await user(named: text, store: store)
        if let own = context.caller.ownUser, user.id != own { throw GatewayError.notFound("No user has the id \(text).") }
        return user
    }

    /// The user with this Sluice id or external id.
    static func user(named text: String, store: any GatewayStore) async throws -> UserRecord {
        if let id = Int64(text), id > 0, let user = try await store.user(id: id) { return user }
        if let user = try await store.user(externalID: text) { return user }
        throw GatewayError.notFound("No user has the id \(text).")
    }

    /// A body may repeat the path's user, as the seed's clients send it; it must then be the same one.
    static func check(bodyUser: String?, against user: UserRecord) throws {
        guard let bodyUser else { return }
        guard bodyUser == String(user.id) || bodyUser == user.externalID else {
            throw GatewayError.invalidRequest("`user_id` in the body names another user than the path.", param: "user_id")
        }
    }

    /// A ledger reference made from a caller's key: scoped to the service and the user, of bounded
    /// length. Scoped to the user too, so one key cannot reach another user's entry or hold.
    static func reference(_ kind: String, service: Int64, user: Int64, key: String) -> String {
        "svc:\(service):\(kind):\(user):\(KeyAuthenticator.hash(key).prefix(32))"
    }

    /// The user as the metering API shows it.
    struct UserView: Encodable {
        var userId: String
        var id: Int64
        var externalId: String?
        var email: String
        var name: String?
        var credits: CreditAmount
        var plan: String
        var isActive: Bool

        init(_ user: UserRecord) {
            userId = user.externalID ?? String(user.id)
            id = user.id
            externalId = user.externalID
            email = user.email
            name = user.name
            credits = CreditAmount(user.balance)
            plan = user.plan
            isActive = user.status == .active
        }

        static let schema = Schema.object([
            ("user_id", .text), ("id", .integer), ("external_id", .nullable(.text)), ("email", .text), ("name", .nullable(.text)),
            ("credits", .credits), ("plan", .text), ("is_active", .boolean),
        ])
    }

    static let userPath = Schema.string(length: 1...200)
}
