import Foundation

/// A JSON Schema, as small as `/openapi.json` needs, with the limits the server enforces: a
/// fuzzer generates requests from these, so a limit left out is a request the document allows and
/// the server refuses.
indirect enum Schema: Sendable {
    case string(format: String? = nil, values: [String]? = nil, length: ClosedRange<Int>? = nil, pattern: String? = nil)
    case integer
    /// An integer the server accepts only in `range`.
    case boundedInteger(ClosedRange<Int>)
    case number
    case boolean
    case array(Schema, minItems: Int = 0)
    /// `closed`: the server refuses members not listed (`additionalProperties: false`).
    case object([(String, Schema)], required: [String] = [], closed: Bool = false)
    /// A JSON value that may be null.
    case nullable(Schema)
    /// A value matching at least one of these.
    case anyOf([Schema])
    /// A named schema in `components.schemas`.
    case ref(String)

    static let text = Schema.string()
    static let time = Schema.string(format: "date-time")
    /// Credits: a decimal number, exact to six decimals.
    static let credits = Schema.number
    /// A positive 64-bit integer, as ids and limits are stored.
    static let positiveInteger = Schema.boundedInteger(1...Int.max)
    /// A non-empty string.
    static let nonEmptyText = Schema.string(length: 1...Int.max)
    /// A time, or a date meaning its midnight UTC (`QueryParameters.date`).
    static let timeOrDate = Schema.anyOf([.time, .string(format: "date")])
    /// An address or CIDR network, as `IPNetwork` reads it.
    static let ipNetwork = Schema.anyOf([
        .string(format: "ipv4"), .string(format: "ipv6"),
        .string(pattern: #"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/(3[0-2]|[12]?[0-9])$"#),
    ])

    enum Sign { case positive, nonZero }

    /// Credits a client sends: a decimal string with at most six decimals, or a whole number.
    /// JSON Schema has no exact decimal number, so the document offers those two exact spellings
    /// (`CreditAmount` reads both); at most 12 whole digits, well inside the fixed point's range.
    static func creditsInput(_ sign: Sign) -> Schema {
        let magnitude = #"([1-9][0-9]{0,11}(\.[0-9]{1,6})?|0\.[0-9]{0,5}[1-9])"#
        let wholeRange = 1...999_999_999_999
        switch sign {
        case .positive:
            return .anyOf([.string(pattern: "^\(magnitude)$"), .boundedInteger(wholeRange)])
        case .nonZero:
            return .anyOf([
                .string(pattern: "^-?\(magnitude)$"), .boundedInteger(wholeRange), .boundedInteger(-wholeRange.upperBound...(-1)),
            ])
        }
    }

    var json: [String: Any] {
        switch self {
        case .string(let format, let values, let length, let pattern):
            var out: [String: Any] = ["type": "string"]
            if let format { out["format"] = format }
            if let values { out["enum"] = values }
            if let length {
                if length.lowerBound > 0 { out["minLength"] = length.lowerBound }
                if length.upperBound < Int.max { out["maxLength"] = length.upperBound }
            }
            if let pattern { out["pattern"] = pattern }
            return out
        case .integer: return ["type": "integer"]
        case .boundedInteger(let range): return ["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound]
        case .number: return ["type": "number"]
        case .boolean: return ["type": "boolean"]
        case .array(let items, let minItems):
            var out: [String: Any] = ["type": "array", "items": items.json]
            if minItems > 0 { out["minItems"] = minItems }
            return out
        case .object(let properties, let required, let closed):
            var out: [String: Any] = [
                "type": "object", "properties": Dictionary(uniqueKeysWithValues: properties.map { ($0.0, $0.1.json) }),
            ]
            if !required.isEmpty { out["required"] = required }
            if closed { out["additionalProperties"] = false }
            return out
        case .nullable(let inner):
            return ["anyOf": [inner.json, ["type": "null"]]]
        case .anyOf(let schemas): return ["anyOf": schemas.map(\.json)]
        case .ref(let name): return ["$ref": "#/components/schemas/\(name)"]
        }
    }
}
