import Foundation
import SluiceCore

/// Records built from stored rows, the same way for every store.
extension UserRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), email: try row.text(required: "email"),
            status: UserStatus(rawValue: try row.text(required: "status")) ?? .disabled,
            role: UserRole(rawValue: try row.text(required: "role")) ?? .user, trustLevel: try row.count("trust_level"),
            plan: try row.text(required: "plan"),
            poolPreference: PoolPreference(rawValue: try row.text(required: "pool_preference")) ?? .dedicatedFirst,
            balance: Credits(micros: try row.int(required: "balance_micros")), createdAt: try row.date(required: "created_at"),
            externalID: try row.text("external_id"), name: try row.text("name"),
            lowBalanceThreshold: try row.int("low_balance_micros").map(Credits.init(micros:)), emailVerifiedAt: try row.date("email_verified_at"))
    }
}

extension APIKeyRecord {
    /// From an `api_keys` row joined with its owner's `status`, `pool_preference`, `plan` and
    /// `trust_level`, and for a team key with its member's columns (`TeamSQL.apiKey`).
    init(row: some StoreRow) throws {
        let limits = APIKeyLimits(
            allowedModels: try row.text("allowed_models").flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) },
            expiresAt: try row.date("expires_at"),
            requestsPerMinute: try row.int("rpm_limit").map(Int.init), tokensPerMinute: try row.int("tpm_limit").map(Int.init),
            spendLimit: try row.int("spend_limit_micros").map(Credits.init(micros:)),
            // A list that no longer parses allows nothing rather than everything.
            ipAllowlist: try row.text("ip_allowlist").map { text in
                ((try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []).compactMap(IPNetwork.init)
            },
            recordConversations: try row.bool(required: "record_conversations"))
        self.init(
            id: try row.int(required: "id"), userID: try row.int(required: "user_id"), name: try row.text(required: "name"),
            prefix: try row.text(required: "prefix"), revokedAt: try row.date("revoked_at"),
            userStatus: UserStatus(rawValue: try row.text(required: "status")) ?? .disabled,
            poolPreference: PoolPreference(rawValue: try row.text(required: "pool_preference")) ?? .dedicatedFirst,
            plan: try row.text(required: "plan"), trustLevel: try row.count("trust_level"), limits: limits,
            spent: Credits(micros: try row.int(required: "spent_micros")), createdAt: try row.date(required: "created_at"),
            lastUsedAt: try row.date("last_used_at"))
        if let membershipID = try row.int("team_member_id") {
            if let member = try TeamKeyMember(row: row, membershipID: membershipID) {
                teamMember = member
            } else {
                // The membership has ended: its keys were revoked with it, and one that was not
                // (made while it ended) is no more usable.
                revokedAt = revokedAt ?? createdAt
                teamMember = TeamKeyMember(membershipID: membershipID, userID: 0, status: .disabled, spendLimit: nil)
            }
        }
    }
}

extension AccountRecord {
    /// Nil for a kind this build does not know, so one odd row cannot stop the pool loading.
    init?(row: some StoreRow) throws {
        guard let kind = AccountKind(rawValue: try row.text(required: "kind")) else { return nil }
        guard let ciphertext = try row.bytes("secret_ciphertext") else { throw StoreDecodingError(column: "secret_ciphertext") }
        self.init(
            id: try row.int(required: "id"), provider: try row.text(required: "provider"), kind: kind, baseURL: try row.text("base_url"),
            models: (try? JSONDecoder().decode([String].self, from: Data(try row.text(required: "models").utf8))) ?? [],
            priority: try row.count("priority"), weight: try row.count("weight"), ownerUserID: try row.int("owner_user_id"),
            secret: SealedSecret(ciphertext: ciphertext, keyVersion: try row.count("secret_key_version")),
            secretGeneration: try row.int(required: "secret_generation"), enabled: try row.bool(required: "enabled"),
            needsReauth: try row.bool(required: "needs_reauth"),
            proxy: try row.bytes("proxy_ciphertext").map { SealedSecret(ciphertext: $0, keyVersion: try row.count("proxy_key_version")) },
            sharing: AccountSharing(
                shareMode: ShareMode(rawValue: try row.text(required: "share_mode")) ?? .ownerOnly,
                reservePercent: try row.count("reserve_percent"), maxConcurrency: try row.int("max_concurrency").map(Int.init)),
            createdAt: try row.date(required: "created_at"))
    }
}

extension StoredCooldown {
    /// Nil for a reason this build does not know.
    init?(row: some StoreRow) throws {
        guard let reason = FailureClass(rawValue: try row.text(required: "reason")) else { return nil }
        let model = try row.text(required: "model")
        self.init(
            accountID: try row.int(required: "account_id"), scope: CooldownScope(model: model.isEmpty ? nil : model),
            state: CooldownState(
                coolingUntil: try row.date("cooling_until"), level: try row.count("level"), reason: reason,
                verifyAt: try row.date("verify_at"), lastFailureAt: try row.date("last_failure_at")))
    }
}

extension LedgerEntry {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), userID: try row.int(required: "user_id"),
            kind: LedgerKind(rawValue: try row.text(required: "kind")) ?? .adjust,
            amount: Credits(micros: try row.int(required: "amount_micros")),
            balanceBefore: Credits(micros: try row.int(required: "balance_before_micros")),
            balanceAfter: Credits(micros: try row.int(required: "balance_after_micros")),
            referenceID: try row.text(required: "reference_id"), note: try row.text("note"), createdAt: try row.date(required: "created_at"))
    }
}

extension UsageRecord {
    init(row: some StoreRow) throws {
        self.init(
            requestID: try row.text(required: "request_id"), userID: try row.int(required: "user_id"),
            apiKeyID: try row.int(required: "api_key_id"), model: try row.text(required: "model"),
            servedModel: try row.text("served_model"), clientProtocol: try row.text("client_protocol"),
            upstreamProtocol: try row.text("upstream_protocol"), provider: try row.text("provider"),
            accountID: try row.int("account_id"),
            usage: TokenUsage(
                promptTokens: try row.count("prompt_tokens"), completionTokens: try row.count("completion_tokens"),
                cachedPromptTokens: try row.count("cached_tokens"), cacheWriteTokens: try row.count("cache_write_tokens")),
            charged: Credits(micros: try row.int(required: "cost_micros")), costEstimated: try row.bool(required: "cost_estimated"),
            latencyMs: try row.count("latency_ms"), ttftMs: try row.int("ttft_ms").map(Int.init), status: try row.count("status"),
            endReason: try row.text(required: "end_reason"), stream: try row.bool(required: "stream"),
            createdAt: try row.date(required: "created_at"))
    }
}

extension ActivityEntry {
    init(row: some StoreRow) throws {
        self.init(
            userID: try row.int(required: "user_id"), actorID: try row.int("actor_id"), action: try row.text(required: "action"),
            detail: try row.text("detail"), ip: try row.text("ip"), createdAt: try row.date(required: "created_at"))
        id = try row.int(required: "id")
    }
}

extension StoredReply {
    init(row: some StoreRow) throws {
        self.init(requestHash: try row.text(required: "request_hash"), status: try row.count("status"), body: try row.text(required: "body"))
    }
}

extension UsageTotals {
    /// From a row of `requests`, `errors`, `prompt`, `completion` and `cost` sums.
    init(row: some StoreRow) throws {
        self.init(
            requests: try row.count("requests"), errors: try row.count("errors"), promptTokens: try row.count("prompt"),
            completionTokens: try row.count("completion"), credits: Credits(micros: try row.int("cost") ?? 0))
    }
}

extension RedemptionCodeRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), prefix: try row.text(required: "prefix"), value: Credits(micros: try row.int(required: "value_micros")),
            maxUses: try row.count("max_uses"), usedCount: try row.count("used_count"), expiresAt: try row.date("expires_at"),
            createdAt: try row.date(required: "created_at"), disabledAt: try row.date("disabled_at"))
    }
}
