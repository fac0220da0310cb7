import ArgumentParser
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage users.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and print its id.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The user's email address.") var email: String
        @Option(help: "Initial credits, a decimal such as 10 or 2.5.") var credits: String = "0"
        @Flag(help: "Make the user an admin. This is how the first admin is made: Sluice has no default credentials.")
        var admin = false
        @Flag(help: "Read a password from the first line of standard input, so the user can sign in to /api.")
        var passwordStdin = false

        func run() async throws {
            guard let amount = SluiceCore.Credits(decimal: credits), amount >= .zero else {
                throw ValidationError("--credits must be a non-negative decimal with at most 6 decimals")
            }
            try await options.withGateway { config, gateway in
                var passwordHash: String?
                if passwordStdin {
                    guard let password = readLine(strippingNewline: true) else { throw ValidationError("--password-stdin: no line on standard input") }
                    do { try PasswordHasher.validate(password) } catch let error as GatewayError { throw ValidationError(error.message) }
                    passwordHash = try await PasswordHasher(cost: config.auth.bcryptCost).hash(password)
                }
                let user = NewUser(email: email, passwordHash: passwordHash, role: admin ? .admin : .user, initialCredits: amount)
                do { print(try await gateway.store.createUser(user)) } catch is StoreConflict {
                    throw ValidationError("a user with email \(email) exists")
                }
            }
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage user API keys.", subcommands: [Create.self])

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
}

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage upstream accounts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an upstream account and print its id.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Provider id, as in Providers/<id>.json.") var provider: String
        @Option(help: """
            The API key, the Cookie header value, or for oauth JSON with access_token, refresh_token and expires_at \
            (Unix seconds). Stored encrypted.
            """) var secret: String
        @Option(help: "Override the provider's base URL.") var baseURL: String?
        @Option(help: "Comma-separated models this account serves (default: all of the provider's).") var models: String?
        @Option(help: "Higher is tried first.") var priority: Int = 0
        @Option(help: "Relative share among accounts of equal priority.") var weight: Int = 1
        @Option(help: "User id of the owner; omit for the shared pool.") var owner: Int64?
        @Option(help: "api-key, cookie or oauth.") var kind: String = "api-key"
        @Option(help: "HTTP CONNECT proxy every call goes through, http://[user:password@]host:port. Stored encrypted.") var proxyURL: String?

        func run() async throws {
            guard let accountKind = AccountKind(rawValue: kind) else { throw ValidationError("--kind must be api-key, cookie or oauth") }
            guard weight > 0 else { throw ValidationError("--weight must be positive") }
            try await options.withGateway { _, gateway in
                guard let manifest = gateway.catalog[provider] else {
                    throw ValidationError("unknown provider \(provider); known: \(gateway.catalog.providers.keys.sorted().joined(separator: ", "))")
                }
                switch accountKind == .oauth ? OAuthAccountProblem.check(secret: secret, at: manifest) : nil {
                case .noTokenEndpoint: throw ValidationError("provider \(provider) has no oauth token_url in its manifest")
                case .notTokens: throw ValidationError("--secret of an oauth account is JSON with access_token, refresh_token and optionally expires_at")
                case nil: break
                }
                let modelList = models.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
                if let unknown = modelList.first(where: { manifest.model($0) == nil }) {
                    throw ValidationError("provider \(provider) has no model \(unknown)")
                }
                if let owner, try await gateway.store.user(id: owner) == nil { throw ValidationError("no user with id \(owner)") }
                if let proxyURL {
                    do { _ = try UpstreamProxy(url: proxyURL) } catch { throw ValidationError("--proxy-url: \(error)") }
                }
                let id = try await gateway.store.addAccount(
                    provider: provider, kind: accountKind, baseURL: baseURL, models: modelList, priority: priority, weight: weight,
                    ownerUserID: owner, sharing: AccountSharing(), secret: try gateway.secrets.seal(secret),
                    proxy: try proxyURL.map { try gateway.secrets.seal($0) })
                print(id)
            }
        }
    }
}

struct Credits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage credits.", subcommands: [Grant.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant credits to a user and print the new balance.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The user id.") var user: Int64
        @Option(help: "Credits to add, a decimal such as 10 or 2.5.") var amount: String
        @Option(help: "Reference id; repeating a grant with the same reference does nothing.") var reference: String?
        @Option(help: "A note for the ledger.") var note: String?

        func run() async throws {
            guard let credits = SluiceCore.Credits(decimal: amount), credits > .zero else {
                throw ValidationError("--amount must be a positive decimal with at most 6 decimals")
            }
            try await options.withGateway { _, gateway in
                guard try await gateway.store.user(id: user) != nil else { throw ValidationError("no user with id \(user)") }
                let entry = try await gateway.store.credit(
                    userID: user, amount: credits, kind: .grant, referenceID: reference ?? "grant-\(UUID().uuidString.lowercased())", note: note)
                print(entry.balanceAfter)
            }
        }
    }
}
