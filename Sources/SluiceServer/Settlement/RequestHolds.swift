import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore

/// Step 3 of the hot path: holds a request's worst-case cost, on the key's budget when it has a
/// spending limit, on the member's when a team key's member has one, and on the credits of the
/// key's owner (a user, or a team's wallet), atomically each, so concurrent requests cannot pass
/// any of them. Every refusal gives back what was already held.
struct RequestHolds: Sendable {
    let credits: any CreditHolds
    let spendingLimits: SpendingLimits
    let pricing: Pricing
    let allowance: SharedPoolAllowance
    let writer: SettlementWriter
    let journal: InFlightJournal?

    /// The worst case: prompt tokens estimated from the body, plus `max_tokens` clamped to the
    /// model's limit (the limit when absent), at the highest price any account charges for it.
    func hold(
        _ request: GatewayRequest, key: APIKeyRecord, model: ProviderManifest.Model, requestID: String, observation: RequestObservation? = nil
    ) async throws -> RequestCharge {
        let promptEstimate = TokenEstimate.promptTokens(bodyBytes: request.body.readableBytes)
        let maxOutput = min(request.summary.maxOutputTokens ?? model.maxOutputTokens, model.maxOutputTokens)
        let worstCase = pricing.worstCase(promptTokens: promptEstimate, maxOutputTokens: maxOutput, at: model.price)
        // The limits first, each given back if a later one refuses: the key's, then (for a team
        // key) its member's on the team's wallet.
        var limits: [SpendingLimits.Subject] = []
        var memberBudgetID: Int64?
        func giveBackLimits() async {
            for subject in limits { try? await spendingLimits.settle(subject, requestID: requestID, charged: .zero) }
        }
        if let limit = key.limits.spendLimit {
            guard (try? await spendingLimits.hold(.key(key.id), amount: worstCase, requestID: requestID)) == .held else {
                throw GatewayError.keySpendLimitReached(limit: limit)
            }
            limits.append(.key(key.id))
        }
        if let member = key.teamMember, let limit = member.spendLimit {
            let subject = SpendingLimits.Subject.member(membershipID: member.membershipID)
            guard (try? await spendingLimits.hold(subject, amount: worstCase, requestID: requestID)) == .held else {
                await giveBackLimits()
                throw GatewayError.memberSpendLimitReached(limit: limit)
            }
            limits.append(subject)
            memberBudgetID = member.membershipID
        }
        let outcome: HoldOutcome
        do {
            outcome = try await credits.hold(userID: key.userID, amount: worstCase, requestID: requestID)
        } catch {
            await giveBackLimits()
            if error is CreditBook.UnknownUser { throw GatewayError.invalidAPIKey }
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its credit store right now.")
        }
        if case .insufficient(let available) = outcome {
            await giveBackLimits()
            throw GatewayError.insufficientQuota(needed: worstCase, available: available)
        }
        return RequestCharge(
            requestID: requestID, key: key, model: request.summary.model, clientProtocol: request.clientAPI ?? request.clientProtocol.rawValue, stream: request.summary.stream,
            promptEstimate: promptEstimate, keyBudgeted: key.limits.spendLimit != nil, memberBudgetID: memberBudgetID,
            allowance: allowance, pricing: pricing, writer: writer, journal: journal,
            observation: observation)
    }
}
