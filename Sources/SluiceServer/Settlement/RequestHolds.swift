import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore

/// Step 3 of the hot path: holds a request's worst-case cost, on the key's budget when it has a
/// spending limit and on the user's credits, atomically each, so concurrent requests cannot pass
/// either. Every refusal gives back what was already held.
struct RequestHolds: Sendable {
    let credits: any CreditHolds
    let keyBudgets: KeyBudgets
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
        let keyBudgeted = key.limits.spendLimit != nil
        if let limit = key.limits.spendLimit {
            guard (try? await keyBudgets.hold(keyID: key.id, amount: worstCase, requestID: requestID)) == .held else {
                throw GatewayError.keySpendLimitReached(limit: limit)
            }
        }
        func giveBackKeyBudget() async {
            if keyBudgeted { try? await keyBudgets.settle(requestID: requestID, charged: .zero) }
        }
        let outcome: HoldOutcome
        do {
            outcome = try await credits.hold(userID: key.userID, amount: worstCase, requestID: requestID)
        } catch {
            await giveBackKeyBudget()
            if error is CreditBook.UnknownUser { throw GatewayError.invalidAPIKey }
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its credit store right now.")
        }
        if case .insufficient(let available) = outcome {
            await giveBackKeyBudget()
            throw GatewayError.insufficientQuota(needed: worstCase, available: available)
        }
        return RequestCharge(
            requestID: requestID, key: key, model: request.summary.model, clientProtocol: request.clientAPI ?? request.clientProtocol.rawValue, stream: request.summary.stream,
            promptEstimate: promptEstimate, keyBudgeted: keyBudgeted, allowance: allowance, pricing: pricing, writer: writer, journal: journal,
            observation: observation)
    }
}
