import Foundation
import SluiceCore
import Testing

@Suite struct ModelAliasTests {
    /// A seeded generator (SplitMix64), so weighted draws are repeatable.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    let weighted = ModelAlias(name: "smart", routing: .weighted, targets: [.init(model: "a", weight: 3), .init(model: "b", weight: 1)])

    @Test func anOrderedAliasTriesItsTargetsAsListed() {
        let alias = ModelAlias(name: "smart", routing: .ordered, targets: [.init(model: "a", weight: 9), .init(model: "b"), .init(model: "c")])
        var random = SeededRandom(state: 1)
        for _ in 0..<10 { #expect(alias.order(using: &random) == ["a", "b", "c"]) }
    }

    @Test func aWeightedAliasLeadsWithEachTargetByItsWeightAndKeepsTheRestAsFailover() {
        var random = SeededRandom(state: 7)
        var firsts: [String: Int] = [:]
        for _ in 0..<4000 {
            let order = weighted.order(using: &random)
            #expect(order.sorted() == ["a", "b"], "every target once")
            firsts[order[0], default: 0] += 1
        }
        // 3 : 1, within a few percent of 4000 draws.
        let a = firsts["a"] ?? 0
        #expect((2800...3200).contains(a), "a led \(a) of 4000")
    }

    @Test func aRequestForAPlainModelHasItselfAsItsOnlyTarget() {
        let aliases = ModelAliases([weighted])
        #expect(aliases.targets(for: "gpt-4o") == ["gpt-4o"])
        #expect(Set(aliases.targets(for: "smart")) == ["a", "b"])
        #expect(aliases.everyTarget(of: "smart") == ["a", "b"])
    }

    @Test func anAliasMustNotHideAModelNorNameAnUnknownOne() {
        #expect(ModelAliases([weighted]).problem(offered: ["a", "b"]) == nil)
        #expect(ModelAliases([weighted]).problem(offered: ["a"])?.contains("no provider offers the target b") == true)
        #expect(ModelAliases([weighted]).problem(offered: ["a", "b", "smart"])?.contains("already offers") == true)
    }

    @Test func replacingTheModelKeepsEveryOtherByte() throws {
        let body = #"{ "temperature": 0.70, "model" : "smart", "messages":[{"role":"user","content":"model"}], "stream":true}"#
        let edited = try #require(ChatRequestRewrite.replacingModel(Data(body.utf8), with: "claude-sonnet-4-5"))
        #expect(String(decoding: edited, as: UTF8.self)
            == #"{ "temperature": 0.70, "model" : "claude-sonnet-4-5", "messages":[{"role":"user","content":"model"}], "stream":true}"#)
        // A name with characters JSON escapes stays valid JSON.
        let odd = try #require(ChatRequestRewrite.replacingModel(Data(body.utf8), with: #"a"b"#))
        let object = try #require(try JSONSerialization.jsonObject(with: odd) as? [String: Any])
        #expect(object["model"] as? String == #"a"b"#)
        #expect(ChatRequestRewrite.replacingModel(Data(#"{"messages":[]}"#.utf8), with: "x") == nil)
        #expect(ChatRequestRewrite.replacingModel(Data(#"{"model":"x""#.utf8), with: "y") == nil)
    }
}
