/// Writes JSON as UTF-8 bytes: compact, members in order, strings escaped per RFC 8259 §7.
public enum JSONWriter {
    /// The compact encoding of `value`. Non-finite doubles (which JSON cannot carry) are written as `null`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return out
    }

    /// Appends the encoding of `value` to `out`.
    public static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i):
            if i < 0 { out.append(UInt8(ascii: "-")) }
            appendDigits(i.magnitude, to: &out)
        case .double(let d): writeDouble(d, to: &out)
        case .string(let s): writeString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A double with a whole number of thousandths (every timestamp: epoch seconds to the millisecond) is written with
    /// exactly three decimals (spec R12: `1764547200.000`); other finite doubles in their shortest form; non-finite ones,
    /// which JSON cannot carry, as `null`.
    static func writeDouble(_ d: Double, to out: inout [UInt8]) {
        guard d.isFinite else { out.append(contentsOf: "null".utf8); return }
        let thousandths = (d * 1000).rounded()
        if abs(d) < 1e13, abs(thousandths - d * 1000) < 1e-6 {
            let ms = Int64(thousandths)
            if ms < 0 { out.append(UInt8(ascii: "-")) }
            let whole = ms.magnitude / 1000, fraction = ms.magnitude % 1000
            appendDigits(whole, to: &out)
            out.append(UInt8(ascii: "."))
            out.append(0x30 + UInt8(fraction / 100))
            out.append(0x30 + UInt8(fraction / 10 % 10))
            out.append(0x30 + UInt8(fraction % 10))
        } else {
            out.append(contentsOf: "\(d)".utf8)
        }
    }

    /// Appends the decimal digits of `value`, without a string in between.
    static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        guard value >= 10 else { out.append(0x30 + UInt8(value)); return }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of stack: room for UInt64.max's 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = 0x30 + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[i]) }
        }
    }

    /// Appends `s` as a JSON string literal.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        // The common case, nothing to escape: one scan of the contiguous UTF-8 and one copy.
        let copied = s.withUTF8 { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
