import ArgumentParser
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users.", subcommands: [Create.self, List.self, Show.self, Disable.self, Enable.self, Set.self])

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

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users, newest first: id, email, status, role, trust, plan, balance.")
        @OptionGroup var options: CommonOptions
        @Option(help: "Only users whose email contains this.") var search: String?
        @Option(help: "At most this many, 1 to 1000.") var limit: Int = 100

        func run() async throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            try await options.withGateway { _, gateway in
                let users = try await gateway.store.users(search: search, page: PageRequest(limit: limit))
                print(Table.render(
                    ["id", "email", "status", "role", "trust", "plan", "balance"],
                    users.map { [String($0.id), $0.email, $0.status.rawValue, $0.role.rawValue, String($0.trustLevel), $0.plan, $0.balance.description] }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The user id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                let user = try await Lookup.user(id, in: gateway)
                let rows: [[String]] = [
                    ["id", String(user.id)], ["email", user.email], ["status", user.status.rawValue], ["role", user.role.rawValue],
                    ["trust", String(user.trustLevel)], ["plan", user.plan], ["balance", user.balance.description],
                    ["pool_preference", user.poolPreference.rawValue], ["external_id", user.externalID ?? ""],
                    ["created_at", user.createdAt.formatted(.iso8601)],
                ]
                print(Table.render(["field", "value"], rows))
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: their keys and sign-ins stop working.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The user id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                _ = try await Lookup.user(id, in: gateway)
                try await gateway.store.setUserStatus(id: id, .disabled)
                try await gateway.store.revokeAllSessions(userID: id)
                print("user \(id) disabled")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled or muted user.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The user id.") var id: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                _ = try await Lookup.user(id, in: gateway)
                try await gateway.store.setUserStatus(id: id, .active)
                print("user \(id) enabled")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's role, trust level or plan.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The user id.") var id: Int64
        @Option(help: "user or admin.") var role: String?
        @Option(help: "0 to 4.") var trust: Int?
        @Option(help: "free, pro or enterprise.") var plan: String?

        func run() async throws {
            let newRole = try role.map { text in
                guard let parsed = UserRole(rawValue: text) else { throw ValidationError("--role must be user or admin") }
                return parsed
            }
            if let trust, !(0...4).contains(trust) { throw ValidationError("--trust must be from 0 to 4") }
            if let plan, !SluiceConfig.Plan.names.contains(plan) { throw ValidationError("--plan must be free, pro or enterprise") }
            guard newRole != nil || trust != nil || plan != nil else { throw ValidationError("give --role, --trust or --plan") }
            try await options.withGateway { _, gateway in
                let before = try await Lookup.user(id, in: gateway)
                guard let after = try await gateway.store.updateUser(id: id, UserUpdate(role: newRole, trustLevel: trust, plan: plan)) else {
                    throw ValidationError("no user with id \(id)")
                }
                if after.plan != before.plan { try await gateway.grants.grant(after) }
                print("user \(id): role \(after.role.rawValue), trust \(after.trustLevel), plan \(after.plan)")
            }
        }
    }
}
