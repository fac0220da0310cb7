import Foundation
import SluiceCore

/// Cluster events as the JSON objects `RedisClusterEvents` puts on its stream. Times are Unix
/// seconds; a session hash is a decimal string, since JSON numbers lose precision past 2^53.
extension ClusterEvent {
    var wire: String {
        let object: [String: Any]
        switch self {
        case .cooldown(let accountID, let scope, let state):
            var fields: [String: Any] = ["t": "cooldown", "a": accountID, "m": scope.model ?? NSNull()]
            if let state {
                fields["s"] = [
                    "until": Self.seconds(state.coolingUntil), "level": state.level, "reason": state.reason?.rawValue ?? NSNull(),
                    "verify": Self.seconds(state.verifyAt), "last": Self.seconds(state.lastFailureAt),
                ]
            }
            object = fields
        case .headroom(let accountID, let share, let resetsAt):
            object = ["t": "headroom", "a": accountID, "share": share, "reset": Self.seconds(resetsAt)]
        case .bound(let key, let accountID):
            object = ["t": "bound", "u": key.userID, "s": String(key.session), "m": key.model, "a": accountID]
        case .keyRevoked(let hash):
            object = ["t": "key_revoked", "h": hash]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    init?(wire: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(wire.utf8)) as? [String: Any] else { return nil }
        let accountID = (object["a"] as? NSNumber)?.int64Value
        switch object["t"] as? String {
        case "cooldown":
            guard let accountID else { return nil }
            let scope = CooldownScope(model: object["m"] as? String)
            let state = (object["s"] as? [String: Any]).map { s in
                CooldownState(
                    coolingUntil: Self.date(s["until"]), level: (s["level"] as? NSNumber)?.intValue ?? 0,
                    reason: (s["reason"] as? String).flatMap(FailureClass.init(rawValue:)), verifyAt: Self.date(s["verify"]),
                    lastFailureAt: Self.date(s["last"]))
            }
            self = .cooldown(accountID: accountID, scope: scope, state: state)
        case "headroom":
            guard let accountID, let share = (object["share"] as? NSNumber)?.doubleValue else { return nil }
            self = .headroom(accountID: accountID, share: share, resetsAt: Self.date(object["reset"]))
        case "bound":
            guard let accountID, let userID = (object["u"] as? NSNumber)?.int64Value, let session = (object["s"] as? String).flatMap(UInt64.init),
                  let model = object["m"] as? String
            else { return nil }
            self = .bound(StickyBindings.Key(userID: userID, session: session, model: model), accountID: accountID)
        case "key_revoked":
            guard let hash = object["h"] as? String else { return nil }
            self = .keyRevoked(hash: hash)
        default:
            return nil
        }
    }

    private static func seconds(_ date: Date?) -> Any { date.map { $0.timeIntervalSince1970 } ?? NSNull() }
    private static func date(_ value: Any?) -> Date? { (value as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) } }
}
