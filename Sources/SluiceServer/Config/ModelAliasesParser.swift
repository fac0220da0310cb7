import SluiceCore

/// Reads `models.aliases` from the YAML file. Unlike every other key its names are the
/// operator's, so it is a mapping of its own rather than dotted keys, and it has no environment
/// variable: an alias is a list of targets, which one variable would spell badly.
///
/// ```yaml
/// models:
///   aliases:
///     smart:
///       routing: weighted
///       targets: [gpt-4o, {model: claude-sonnet-4-5, weight: 3}]
/// ```
enum ModelAliasesParser {
    static let maxWeight = 1000

    static func parse(_ raw: Any, source: String) throws -> ModelAliases {
        guard let mapping = raw as? [String: Any] else { throw error(source, "models.aliases must be a mapping of alias names") }
        var aliases: [ModelAlias] = []
        for (name, value) in mapping.sorted(by: { $0.key < $1.key }) {
            let path = "models.aliases.\(name)"
            guard !name.isEmpty, !name.contains(where: \.isWhitespace) else { throw error(source, "\(path): an alias name needs no spaces") }
            guard let fields = value as? [String: Any] else { throw error(source, "\(path) must be a mapping with routing and targets") }
            if let unknown = fields.keys.sorted().first(where: { !["routing", "targets"].contains($0) }) {
                throw error(source, "unknown key \(path).\(unknown)")
            }
            let routingName = fields["routing"].map { "\($0)" } ?? ModelAlias.Routing.ordered.rawValue
            guard let routing = ModelAlias.Routing(rawValue: routingName) else {
                throw error(source, "\(path).routing must be ordered or weighted, got \(routingName)")
            }
            guard let list = fields["targets"] as? [Any], !list.isEmpty else { throw error(source, "\(path).targets must list at least one model") }
            let targets = try list.map { try target($0, path: "\(path).targets", source: source) }
            let models = targets.map(\.model)
            guard Set(models).count == models.count else { throw error(source, "\(path).targets names a model twice") }
            if models.contains(name) { throw error(source, "\(path).targets names the alias itself") }
            aliases.append(ModelAlias(name: name, routing: routing, targets: targets))
        }
        let names = Set(aliases.map(\.name))
        if let nested = aliases.first(where: { $0.targets.contains { names.contains($0.model) } }) {
            throw error(source, "models.aliases.\(nested.name): a target cannot be another alias")
        }
        return ModelAliases(aliases)
    }

    /// A model name, or `{model, weight}`.
    private static func target(_ raw: Any, path: String, source: String) throws -> ModelAlias.Target {
        if let model = raw as? String, !model.isEmpty { return ModelAlias.Target(model: model) }
        guard let fields = raw as? [String: Any], let model = fields["model"] as? String, !model.isEmpty else {
            throw error(source, "\(path): each target is a model name or {model, weight}")
        }
        if let unknown = fields.keys.sorted().first(where: { !["model", "weight"].contains($0) }) {
            throw error(source, "unknown key \(path).\(unknown)")
        }
        let weight = fields["weight"].map { Int("\($0)") ?? 0 } ?? 1
        guard (1...maxWeight).contains(weight) else { throw error(source, "\(path): the weight of \(model) must be an integer from 1 to \(maxWeight)") }
        return ModelAlias.Target(model: model, weight: weight)
    }

    private static func error(_ source: String, _ problem: String) -> ConfigLoader.Error {
        ConfigLoader.Error(description: "\(source): \(problem)")
    }
}
