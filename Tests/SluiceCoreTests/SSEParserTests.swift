import Foundation
import Testing
@testable import SluiceCore

@Suite struct SSEParserTests {
    func parse(_ reads: [String]) throws -> [ServerSentEvent] {
        var parser = SSEParser()
        return try reads.flatMap { try parser.feed(Array($0.utf8)) }
    }

    func texts(_ events: [ServerSentEvent]) -> [String] { events.map { String(decoding: $0.data, as: UTF8.self) } }

    @Test func oneEventPerBlankLine() throws {
        #expect(texts(try parse(["data: a\n\ndata: b\n\n"])) == ["a", "b"])
    }

    @Test func linesSplitAcrossReadsAtEveryOffset() throws {
        let stream = "data: {\"x\":1}\n\ndata: second\n\n"
        for cut in 1..<stream.utf8.count {
            let bytes = Array(stream.utf8)
            var parser = SSEParser()
            let events = try parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...])
            #expect(texts(events) == ["{\"x\":1}", "second"], "cut at \(cut)")
        }
    }

    @Test func crlfAndLoneCRAreLineBreaks() throws {
        #expect(texts(try parse(["data: a\r\n\r\ndata: b\r\rdata: c\n\n"])) == ["a", "b", "c"])
    }

    @Test func crlfSplitBetweenReadsIsOneBreak() throws {
        // "\r" ends one read and "\n" starts the next: that is one line break, not an empty line.
        #expect(texts(try parse(["data: a\r", "\ndata: b\r\n", "\r\n"])) == ["a\nb"])
    }

    @Test func commentsAreIgnored() throws {
        #expect(texts(try parse([": keep-alive\n\n: another\ndata: x\n\n"])) == ["x"])
    }

    @Test func multiLineDataJoinsWithNewline() throws {
        #expect(texts(try parse(["data: line one\ndata: line two\ndata:three\n\n"])) == ["line one\nline two\nthree"])
    }

    @Test func eventNamesAndFieldsWithoutValue() throws {
        let events = try parse(["event: ping\ndata\n\nid: 7\nretry: 10\ndata: x\n\n"])
        #expect(events == [ServerSentEvent(event: "ping", data: Data()), ServerSentEvent(event: nil, data: Data("x".utf8))])
    }

    @Test func unfinishedEventIsNotDispatched() throws {
        #expect(try parse(["data: partial\n"]).isEmpty)
    }

    @Test func overlongLineIsAnError() throws {
        var parser = SSEParser(maxLineBytes: 8)
        #expect(throws: SSEParser.ParseError.lineTooLong) { try parser.feed(Array("data: 0123456789".utf8)) }
    }

    @Test func encoderSplitsNewlinesIntoDataLines() {
        #expect(String(decoding: SSEEncoder.encode(Data("a\nb".utf8)), as: UTF8.self) == "data: a\ndata: b\n\n")
    }
}
