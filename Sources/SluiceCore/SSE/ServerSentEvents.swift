import Foundation

/// One server-sent event: its `event:` name, if any, and its `data:` lines joined by `\n`.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var data: Data

    public init(event: String? = nil, data: Data) {
        self.event = event
        self.data = data
    }
}

/// An incremental parser for `text/event-stream`, as the WHATWG spec defines it.
///
/// Feed it bytes as they arrive; it returns the events completed by those bytes. Lines may be
/// split anywhere across reads, end in LF, CRLF or CR, and a CRLF may itself be split across reads.
/// Comment lines (`:` first) are dropped. An event is dispatched at a blank line, and only if it
/// had data. Unfinished input at the end of the stream is discarded, as the spec says.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventName: String?
    /// The previous read ended in CR; a LF first in the next read belongs to the same line break.
    private var skipLeadingLF = false
    /// Bound on one line, so a peer that never sends a newline cannot grow memory without limit.
    public let maxLineBytes: Int

    public init(maxLineBytes: Int = 4 << 20) { self.maxLineBytes = maxLineBytes }

    public enum ParseError: Error, Equatable { case lineTooLong }

    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws(ParseError) -> [ServerSentEvent] where Bytes.Element == UInt8 {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if skipLeadingLF {
                skipLeadingLF = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                skipLeadingLF = true
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < maxLineBytes else { throw .lineTooLong }
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                data.removeAll(keepingCapacity: true)
                hasData = false
                eventName = nil
            }
            return hasData ? ServerSentEvent(event: eventName, data: Data(data)) : nil
        }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let field = line[..<(colon ?? line.endIndex)]
        var valueStart = colon.map { line.index(after: $0) } ?? line.endIndex
        if valueStart < line.endIndex && line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            eventName = String(decoding: value, as: UTF8.self)
        }
        return nil
    }
}

/// Writes events in the form OpenAI clients read: `data: …` lines and a blank line.
public enum SSEEncoder {
    public static func encode(_ payload: Data) -> Data {
        var out = Data(capacity: payload.count + 8)
        append(payload, to: &out)
        return out
    }

    /// Appends one event to `out`. A payload with newlines becomes several `data:` lines.
    public static func append(_ payload: Data, to out: inout Data) {
        var start = payload.startIndex
        while true {
            let end = payload[start...].firstIndex(of: UInt8(ascii: "\n")) ?? payload.endIndex
            out.append(contentsOf: "data: ".utf8)
            out.append(payload[start..<end])
            out.append(UInt8(ascii: "\n"))
            guard end < payload.endIndex else { break }
            start = payload.index(after: end)
        }
        out.append(UInt8(ascii: "\n"))
    }

    public static let done = Data("data: [DONE]\n\n".utf8)
}
