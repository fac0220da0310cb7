import Foundation
import SluiceCore

/// One upstream provider, as described by a file in `Providers/`.
public struct ProviderManifest: Sendable, Equatable {
    public enum AuthStyle: Sendable, Equatable {
        /// `Authorization: Bearer <secret>`.
        case bearer
        /// `<header>: <secret>`, e.g. `api-key` or `x-api-key`.
        case header(String)
    }

    public struct Model: Sendable, Equatable {
        /// What a model does: answer (chat), or turn input into vectors (embedding, no output tokens).
        public enum Kind: String, Sendable, CaseIterable {
            case chat
            case embedding
        }

        public var id: String
        public var kind: Kind
        public var contextWindow: Int
        public var maxOutputTokens: Int
        public var price: Price

        public init(id: String, kind: Kind = .chat, contextWindow: Int, maxOutputTokens: Int, price: Price) {
            self.id = id
            self.kind = kind
            self.contextWindow = contextWindow
            self.maxOutputTokens = maxOutputTokens
            self.price = price
        }

        /// Limits no model of `models` exceeds: the highest of each price and limit, so a hold at
        /// them covers whichever serves. Nil for no models.
        public static func dearest(of models: [Model], named name: String) -> Model? {
            guard var dearest = models.first else { return nil }
            dearest.id = name
            for model in models.dropFirst() {
                dearest.contextWindow = max(dearest.contextWindow, model.contextWindow)
                dearest.maxOutputTokens = max(dearest.maxOutputTokens, model.maxOutputTokens)
                dearest.price = Price(
                    inputMicroUSDPerMillion: max(dearest.price.inputMicroUSDPerMillion, model.price.inputMicroUSDPerMillion),
                    outputMicroUSDPerMillion: max(dearest.price.outputMicroUSDPerMillion, model.price.outputMicroUSDPerMillion),
                    cachedInputMicroUSDPerMillion: max(dearest.price.cachedInputMicroUSDPerMillion, model.price.cachedInputMicroUSDPerMillion),
                    cacheWriteMicroUSDPerMillion: max(dearest.price.cacheWriteMicroUSDPerMillion, model.price.cacheWriteMicroUSDPerMillion))
            }
            return dearest
        }
    }

    /// Where OAuth accounts of this provider refresh their tokens (`oauth`).
    public struct OAuth: Sendable, Equatable {
        public var tokenURL: String
        /// Sent as `client_id` when the provider wants one.
        public var clientID: String?

        public init(tokenURL: String, clientID: String? = nil) {
            self.tokenURL = tokenURL
            self.clientID = clientID
        }
    }

    public var id: String
    public var name: String
    public var baseURL: String
    /// What the provider's accounts speak; it picks their adapter (`ProviderCatalog.adapter(for:)`).
    public var wireProtocol: WireProtocol
    public var auth: AuthStyle
    public var models: [Model]
    /// How this provider says when a limit resets (`reset_hints`); `Retry-After` when not listed.
    public var resetHints: Set<ResetHintSource>
    /// nil: the provider has no OAuth accounts.
    public var oauth: OAuth?

    public init(
        id: String, name: String, baseURL: String, wireProtocol: WireProtocol = .openAIChat, auth: AuthStyle, models: [Model],
        resetHints: Set<ResetHintSource> = [.retryAfter], oauth: OAuth? = nil
    ) {
        self.id = id
        self.name = name
        self.baseURL = baseURL
        self.wireProtocol = wireProtocol
        self.auth = auth
        self.models = models
        self.resetHints = resetHints
        self.oauth = oauth
    }

    public func model(_ id: String) -> Model? { models.first { $0.id == id } }
}

/// A manifest that failed validation. The message names the file and the field.
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var problem: String
    public var description: String { "provider manifest \(file): \(problem)" }
}

extension ProviderManifest {
    /// Parses and validates one manifest. Unknown fields are errors, so a typo cannot silently
    /// drop a price or a limit.
    public static func parse(_ data: Data, file: String) throws(ManifestError) -> ProviderManifest {
        func fail(_ problem: String) -> ManifestError { ManifestError(file: file, problem: problem) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        var reader = FieldReader(object: root, path: "", fail: fail)
        let id = try reader.string("id")
        let name = try reader.string("name")
        let baseURL = try reader.string("base_url")
        guard isHTTPURL(baseURL) else { throw fail("base_url must be an http(s) URL, got \(baseURL)") }
        let protocolName = try reader.string("wire_protocol")
        guard let wireProtocol = WireProtocol(rawValue: protocolName) else {
            let known = WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("wire_protocol \(protocolName) is not supported (\(known))")
        }
        var authReader = FieldReader(object: try reader.object("auth"), path: "auth.", fail: fail)
        let style = try authReader.string("style")
        let auth: AuthStyle
        switch style {
        case "bearer": auth = .bearer
        case "header": auth = .header(try authReader.string("header"))
        default: throw fail("auth.style must be bearer or header, got \(style)")
        }
        try authReader.rejectUnknown()
        var models: [Model] = []
        for (index, raw) in try reader.array("models").enumerated() {
            guard let object = raw as? [String: Any] else { throw fail("models[\(index)] is not an object") }
            var m = FieldReader(object: object, path: "models[\(index)].", fail: fail)
            let modelID = try m.string("id")
            let kindName = m.has("kind") ? try m.string("kind") : Model.Kind.chat.rawValue
            guard let kind = Model.Kind(rawValue: kindName) else { throw fail("models[\(index)].kind must be chat or embedding, got \(kindName)") }
            let context = try m.positiveInt("context_window")
            // An embedding model writes no tokens.
            let maxOut = kind == .embedding && !m.has("max_output_tokens") ? 0 : try m.positiveInt("max_output_tokens")
            var p = FieldReader(object: try m.object("price"), path: "models[\(index)].price.", fail: fail)
            // Anthropic charges for writing the prompt cache: its manifests must say how much.
            let cacheWrite: String? = try p.has("cache_write") || wireProtocol == .anthropicMessages ? p.decimal("cache_write") : nil
            guard let price = Price(inputUSD: try p.decimal("input"), outputUSD: try p.decimal("output"),
                                    cachedInputUSD: try p.decimal("cached_input"), cacheWriteUSD: cacheWrite)
            else { throw fail("models[\(index)].price has a negative or over-precise value (at most 6 decimals)") }
            try p.rejectUnknown()
            try m.rejectUnknown()
            guard maxOut <= context else { throw fail("models[\(index)].max_output_tokens exceeds context_window") }
            models.append(Model(id: modelID, kind: kind, contextWindow: context, maxOutputTokens: maxOut, price: price))
        }
        guard !models.isEmpty else { throw fail("models is empty") }
        guard Set(models.map(\.id)).count == models.count else { throw fail("models lists an id twice") }
        var resetHints: Set<ResetHintSource> = [.retryAfter]
        if reader.has("reset_hints") {
            resetHints = []
            for raw in try reader.array("reset_hints") {
                guard let name = raw as? String, let source = ResetHintSource(rawValue: name) else {
                    let known = ResetHintSource.allCases.map(\.rawValue).joined(separator: ", ")
                    throw fail("reset_hints has \(raw); known: \(known)")
                }
                resetHints.insert(source)
            }
        }
        var oauth: OAuth?
        if reader.has("oauth") {
            var o = FieldReader(object: try reader.object("oauth"), path: "oauth.", fail: fail)
            let tokenURL = try o.string("token_url")
            guard isHTTPURL(tokenURL) else { throw fail("oauth.token_url must be an http(s) URL, got \(tokenURL)") }
            let clientID: String? = o.has("client_id") ? try o.string("client_id") : nil
            oauth = OAuth(tokenURL: tokenURL, clientID: clientID)
            try o.rejectUnknown()
        }
        try reader.rejectUnknown()
        return ProviderManifest(id: id, name: name, baseURL: baseURL, wireProtocol: wireProtocol, auth: auth, models: models, resetHints: resetHints, oauth: oauth)
    }

    private static func isHTTPURL(_ string: String) -> Bool {
        guard let url = URL(string: string) else { return false }
        return ["http", "https"].contains(url.scheme ?? "") && url.host != nil
    }
}

/// Reads typed fields from a JSON object and remembers which it read, to reject the rest.
private struct FieldReader {
    let object: [String: Any]
    let path: String
    let fail: (String) -> ManifestError
    var seen: Set<String> = []

    init(object: [String: Any], path: String, fail: @escaping (String) -> ManifestError) {
        self.object = object
        self.path = path
        self.fail = fail
    }

    mutating func value(_ key: String) throws(ManifestError) -> Any {
        seen.insert(key)
        guard let v = object[key] else { throw fail("missing field \(path)\(key)") }
        return v
    }

    mutating func string(_ key: String) throws(ManifestError) -> String {
        guard let s = try value(key) as? String, !s.isEmpty else { throw fail("\(path)\(key) must be a non-empty string") }
        return s
    }

    mutating func positiveInt(_ key: String) throws(ManifestError) -> Int {
        guard let n = try value(key) as? NSNumber, n.doubleValue == Double(n.intValue), n.intValue > 0
        else { throw fail("\(path)\(key) must be a positive integer") }
        return n.intValue
    }

    /// A price, written as a string (`"2.50"`) or a number (`2.5`).
    mutating func decimal(_ key: String) throws(ManifestError) -> String {
        let v = try value(key)
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return "\(n.decimalValue)" }
        throw fail("\(path)\(key) must be a decimal number")
    }

    mutating func object(_ key: String) throws(ManifestError) -> [String: Any] {
        guard let o = try value(key) as? [String: Any] else { throw fail("\(path)\(key) must be an object") }
        return o
    }

    mutating func array(_ key: String) throws(ManifestError) -> [Any] {
        guard let a = try value(key) as? [Any] else { throw fail("\(path)\(key) must be an array") }
        return a
    }

    func has(_ key: String) -> Bool { object[key] != nil }

    func rejectUnknown() throws(ManifestError) {
        if let extra = object.keys.filter({ !seen.contains($0) }).sorted().first {
            throw fail("unknown field \(path)\(extra)")
        }
    }
}
