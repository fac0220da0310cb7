/// A public model name that an operator maps onto models of several providers, the way LiteLLM's
/// model groups do: a request for `smart` may be served by `gpt-4o`, `claude-sonnet-4-5` or
/// `gemini-2.5-pro`, and fails over from one to the next before its first byte.
public struct ModelAlias: Sendable, Equatable {
    /// How a request's targets are ordered.
    public enum Routing: String, Sendable, CaseIterable {
        /// As listed: the first target with an account to try, then the next.
        case ordered
        /// A draw by weight for each request, without replacement, so the order also fails over.
        case weighted
    }

    public struct Target: Sendable, Equatable {
        public var model: String
        public var weight: Int

        public init(model: String, weight: Int = 1) {
            self.model = model
            self.weight = weight
        }
    }

    public var name: String
    public var routing: Routing
    public var targets: [Target]

    public init(name: String, routing: Routing, targets: [Target]) {
        self.name = name
        self.routing = routing
        self.targets = targets
    }

    /// The models to try for one request, in order; each appears once.
    public func order(using random: inout some RandomNumberGenerator) -> [String] {
        guard routing == .weighted else { return targets.map(\.model) }
        var remaining = targets
        var order: [String] = []
        while !remaining.isEmpty {
            let total = remaining.reduce(0) { $0 + $1.weight }
            var draw = Int.random(in: 0..<total, using: &random)
            let index = remaining.firstIndex { target in
                if draw < target.weight { return true }
                draw -= target.weight
                return false
            }!
            order.append(remaining.remove(at: index).model)
        }
        return order
    }
}

/// The operator's aliases, by public name.
public struct ModelAliases: Sendable, Equatable {
    public private(set) var byName: [String: ModelAlias]

    public init(_ aliases: [ModelAlias] = []) {
        byName = Dictionary(aliases.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    public subscript(name: String) -> ModelAlias? { byName[name] }

    /// The models that may serve a request for `model`, in the order to try them: an alias's
    /// targets, or the model itself.
    public func targets(for model: String) -> [String] {
        guard let alias = byName[model] else { return [model] }
        var random = SystemRandomNumberGenerator()
        return alias.order(using: &random)
    }

    /// Every model that could serve `model`, in no particular order.
    public func everyTarget(of model: String) -> [String] { byName[model]?.targets.map(\.model) ?? [model] }

    /// What is wrong with the aliases given the models providers offer, or nil: an alias must
    /// not hide a provider's model, and each target must be a model some provider offers.
    public func problem(offered: Set<String>) -> String? {
        for alias in byName.values.sorted(by: { $0.name < $1.name }) {
            if offered.contains(alias.name) { return "models.aliases.\(alias.name): a provider already offers a model of that name" }
            if let unknown = alias.targets.first(where: { !offered.contains($0.model) }) {
                return "models.aliases.\(alias.name): no provider offers the target \(unknown.model)"
            }
        }
        return nil
    }
}
