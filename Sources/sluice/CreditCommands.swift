import ArgumentParser
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore

struct Credits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage credits.", subcommands: [Grant.self, Balance.self, History.self])

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

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a user's balance.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The user id.") var user: Int64

        func run() async throws {
            try await options.withGateway { _, gateway in
                guard let balance = try await gateway.store.balance(userID: user) else { throw ValidationError("no user with id \(user)") }
                print(balance)
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A user's ledger, newest first: id, time, type, amount, before, after, reference, note.")
        @OptionGroup var options: CommonOptions
        @Option(help: "The user id.") var user: Int64
        @Option(help: "At most this many, 1 to 1000.") var limit: Int = 50

        func run() async throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
            try await options.withGateway { _, gateway in
                _ = try await Lookup.user(user, in: gateway)
                let entries = try await gateway.store.transactions(LedgerQuery(userID: user, page: PageRequest(limit: limit)))
                print(Table.render(
                    ["id", "time", "type", "amount", "before", "after", "reference", "note"],
                    entries.map {
                        [String($0.id), $0.createdAt.formatted(.iso8601), $0.kind.rawValue, $0.amount.description, $0.balanceBefore.description,
                         $0.balanceAfter.description, $0.referenceID, $0.note ?? ""]
                    }))
            }
        }
    }
}
