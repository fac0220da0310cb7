import Foundation

extension ConfigLoader {
    static let tracingKeys: [Key] = [
        bool("tracing.enabled") { $0.tracing.enabled = $1 },
        Key(path: "tracing.endpoint") { config, value, source in
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Error(description: "\(source): tracing.endpoint must be an http or https URL, got \(value)")
            }
            config.tracing.endpoint = value
        },
        Key(path: "tracing.protocol") { config, value, source in
            guard ["http/protobuf", "http/json"].contains(value) else {
                throw Error(description: "\(source): tracing.protocol must be http/protobuf or http/json")
            }
            config.tracing.protocol = value
        },
        string("tracing.service_name") { $0.tracing.serviceName = $1 },
        Key(path: "tracing.sample_ratio") { config, value, source in
            guard let ratio = Double(value.trimmingCharacters(in: .whitespaces)), (0...1).contains(ratio) else {
                throw Error(description: "\(source): tracing.sample_ratio must be a number from 0 to 1, got \(value)")
            }
            config.tracing.sampleRatio = ratio
        },
        int("tracing.export_delay_millis", min: 1, max: 600_000) { $0.tracing.exportDelayMillis = $1 },
        int("tracing.export_timeout_millis", min: 1, max: 600_000) { $0.tracing.exportTimeoutMillis = $1 },
        int("tracing.max_queued_spans", min: 1, max: 1_000_000) { $0.tracing.maxQueuedSpans = $1 },
    ]
}
