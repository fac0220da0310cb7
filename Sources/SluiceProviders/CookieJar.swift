/// Merges `Set-Cookie` headers into a `Cookie` header value: a cookie with the same name is
/// replaced, a new one is added, and attributes (Path, Expires, …) are dropped.
public enum CookieJar {
    public static func merge(cookieHeader: String, setCookies: [String]) -> String {
        var pairs: [(name: String, value: String)] = cookieHeader.split(separator: ";").compactMap { part in
            let kv = part.split(separator: "=", maxSplits: 1)
            guard let name = kv.first?.trimmed, !name.isEmpty else { return nil }
            return (name, kv.count > 1 ? kv[1].trimmed : "")
        }
        for header in setCookies {
            guard let first = header.split(separator: ";", maxSplits: 1).first else { continue }
            let kv = first.split(separator: "=", maxSplits: 1)
            guard let name = kv.first?.trimmed, !name.isEmpty else { continue }
            let value = kv.count > 1 ? kv[1].trimmed : ""
            if let i = pairs.firstIndex(where: { $0.name == name }) {
                pairs[i].value = value
            } else {
                pairs.append((name, value))
            }
        }
        return pairs.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
    }
}

extension Substring {
    fileprivate var trimmed: String {
        var s = self
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
