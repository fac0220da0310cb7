import ArgumentParser
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage upstream accounts.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, Reset.self, SetSecret.self, Remove.self])

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

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List accounts with their state: id, provider, kind, owner, priority, weight, state, cooling scopes.")
        @OptionGroup var options: CommonOptions

        func run() async throws {
            try await options.withGateway { _, gateway in
                let accounts = try await gateway.store.accounts(ownerUserID: nil)
                let cooling = try await gateway.store.liveCooldowns(now: Date())
                print(Table.render(
                    ["id", "provider", "kind", "owner", "priority", "weight", "state", "cooling"],
                    accounts.map { account in
                        let scopes = cooling.filter { $0.accountID == account.id }.map { cooldown in
                            "\(cooldown.scope.model ?? "account") until \(cooldown.state.coolingUntil?.formatted(.iso8601) ?? "?")"
                        }
                        let state = account.needsReauth ? "needs_reauth" : account.enabled ? "enabled" : "disabled"
                        return [
                            String(account.id), account.provider, account.kind.rawValue, account.ownerUserID.map(String.init) ?? "shared",
                            String(account.priority), String(account.weight), state, scopes.joined(separator: "; "),
                        ]
                    }))
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take an account out of rotation.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The account id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard try await gateway.store.updateAccount(id: id, AccountUpdate(enabled: false)) != nil else { throw ValidationError("no account with id \(id)") }
                print("account \(id) disabled")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put an account back in rotation.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The account id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard try await gateway.store.updateAccount(id: id, AccountUpdate(enabled: true)) != nil else { throw ValidationError("no account with id \(id)") }
                print("account \(id) enabled")
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear an account's cooldowns and backoff. Instances sharing Redis hear of it at once; others at restart.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The account id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard try await gateway.store.account(id: id) != nil else { throw ValidationError("no account with id \(id)") }
                try await gateway.pool.reload()
                await gateway.pool.reset(id)
                print("account \(id) reset")
            }
        }
    }

    struct SetSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-secret", abstract: "Replace an account's secret, read from the first line of standard input.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The account id.") var id: Int64

        func run() async throws {
            guard let secret = readLine(strippingNewline: true), !secret.isEmpty else { throw ValidationError("no secret on standard input") }
            try await options.withGateway { _, gateway in
                guard try await gateway.store.account(id: id) != nil else { throw ValidationError("no account with id \(id)") }
                try await gateway.store.updateAccountSecret(id: id, try gateway.secrets.seal(secret))
                print("account \(id): secret replaced")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account; its usage history stays.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The account id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard try await gateway.store.account(id: id) != nil else { throw ValidationError("no account with id \(id)") }
                try await gateway.store.removeAccount(id: id)
                print("account \(id) removed")
            }
        }
    }
}
