import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The server's swift-log handler: one line per record on standard error, in the format of swift-log's
/// `StreamLogHandler` (`2026-12-06T08:35:12+0000 info hyperpod-local: k=v k2=v2 [module] message`, metadata sorted by
/// key), at a fraction of its cost per line: the timestamp text is made once per second, the line is built in one
/// byte buffer and written with a single `write(2)` (lines of concurrent threads never interleave; nothing is
/// buffered, so nothing is lost when the process is killed).
public struct StandardErrorLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += Self.timestamp()
        line.append(0x20)
        Self.append(event.level.rawValue, to: &line)
        line.append(0x20)
        Self.append(label, to: &line)
        line.append(UInt8(ascii: ":"))
        let merged: Logger.Metadata
        if let extra = event.metadata, !extra.isEmpty {
            merged = metadata.isEmpty ? extra : metadata.merging(extra) { _, new in new }
        } else {
            merged = metadata
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(0x20)
            Self.append(key, to: &line)
            line.append(UInt8(ascii: "="))
            if case .string(let text) = value {
                Self.append(text, to: &line)
            } else {
                Self.append("\(value)", to: &line)
            }
        }
        line += " [".utf8
        Self.append(event.source, to: &line)
        line += "] ".utf8
        Self.append(event.message.description, to: &line)
        line.append(0x0A)
        line.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Appends the UTF-8 of `text` with one copy (the generic `append(contentsOf:)` of a UTF-8 view goes byte by byte).
    @inline(__always)
    static func append(_ text: String, to line: inout [UInt8]) {
        var text = text
        text.withUTF8 { line.append(contentsOf: $0) }
    }

    /// `yyyy-MM-ddTHH:mm:ss±zzzz` in local time, as `StreamLogHandler` writes it; the text is made once per second.
    static func timestamp() -> [UInt8] {
        var now = time(nil)
        return cache.withLock { cached in
            if cached.second == now { return cached.text }
            var parts = tm()
            localtime_r(&now, &parts)
            var buffer = [CChar](repeating: 0, count: 32)
            let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
            cached = (now, buffer.prefix(count).map { UInt8(bitPattern: $0) })
            return cached.text
        }
    }

    private static let cache = Mutex<(second: time_t, text: [UInt8])>((-1, []))
}
