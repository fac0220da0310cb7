import Foundation

extension ConfigLoader {
    static let webhookKeys: [Key] = [
        int("webhooks.poll_millis", min: 10, max: 60_000) { $0.webhooks.pollMillis = $1 },
        int("webhooks.retry_base_millis", min: 10, max: 3_600_000) { $0.webhooks.retryBaseMillis = $1 },
        int("webhooks.retry_max_seconds", min: 1, max: 86_400) { $0.webhooks.retryMaxSeconds = $1 },
        int("webhooks.give_up_hours", min: 1, max: 720) { $0.webhooks.giveUpHours = $1 },
        int("webhooks.timeout_seconds", min: 1, max: 300) { $0.webhooks.timeoutSeconds = $1 },
    ]
}
