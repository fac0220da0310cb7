import ArgumentParser
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage user API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print it. It is shown only once.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The owner's user id.") var user: Int64
        @Option(help: "A name to recognise the key by.") var name: String = ""

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard try await gateway.store.user(id: user) != nil else { throw ValidationError("no user with id \(user)") }
                print(try await APIKeyIssuer.issue(store: gateway.store, userID: user, name: name).key)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's live keys: id, name, prefix, state, spent, created.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The owner's user id.") var user: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                _ = try await Lookup.user(user, in: gateway)
                let keys = try await gateway.store.apiKeys(userID: user)
                print(Table.render(
                    ["id", "name", "prefix", "state", "spent", "created_at"],
                    keys.map { [String($0.id), $0.name, $0.prefix, $0.revokedAt == nil ? "active" : "revoked", $0.spent.description, $0.createdAt.formatted(.iso8601)] }))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: refused from now on (at once where instances share Redis).")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The key id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard let hash = try await gateway.store.revokeAPIKey(id: id, userID: nil) else { throw ValidationError("no live key with id \(id)") }
                gateway.authenticator.forget(hash: hash)
                print("key \(id) revoked")
            }
        }
    }
}
