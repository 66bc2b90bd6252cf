import Synchronization

/// A model pattern matched against a whole value, the way AWS's Java validator does (spec R15):
/// `\A(?:pattern)\z` — a match must cover the whole string (a trailing newline is not excused), with Unicode-scalar
/// (not grapheme-cluster) semantics, so `.` and classes see code points as `java.util.regex` does.
///
/// `\d`, `\s` and `\w` are ASCII-only, as in Java (the cross-check test found `(?!\s*$).+` disagreeing on U+00A0
/// before that). Differences from `java.util.regex` found by `PatternMatcherJavaCrossCheckTests` are listed there.
public struct PatternMatcher: @unchecked Sendable {
    // @unchecked because: `Regex<AnyRegexOutput>` is not declared Sendable on this toolchain, but a compiled regex is
    // an immutable value; its lazily lowered program is initialised once, and `init` forces that with one match
    // before the value is shared, so concurrent `wholeMatch` calls only read it.
    private let regex: Regex<AnyRegexOutput>
    public let pattern: String
    /// Answers for recently seen values (cluster names and ARNs repeat on every call): Swift's `Regex` costs
    /// microseconds per match. Bounded: cleared when it reaches `memoLimit` entries.
    private let memo = Memo()
    static let memoLimit = 4096

    private final class Memo: Sendable {
        let answers = Mutex<[ExactKey: Bool]>([:])
    }

    /// A string compared by its exact UTF-8 bytes. `String`'s own `==` is canonical equivalence (`"é"` equals
    /// `"e\u{301}"`), but the patterns see Unicode scalars, and the two can match differently.
    private struct ExactKey: Hashable, Sendable {
        let value: String
        static func == (a: ExactKey, b: ExactKey) -> Bool { a.value.utf8.elementsEqual(b.value.utf8) }
        func hash(into hasher: inout Hasher) {
            for byte in value.utf8 { hasher.combine(byte) }
        }
    }

    /// Compiles `pattern` (the model's text, without anchors).
    /// - Throws: the standard library's regex syntax error.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        // java.util.regex defaults: `\d`, `\s`, `\w` (and so `\b`) are ASCII-only; `\p{L}` and friends are Unicode.
        self.regex = try Regex(Self.javaCompatible(Self.linearEquivalents[pattern] ?? pattern))
            .matchingSemantics(.unicodeScalar)
            .asciiOnlyDigits()
            .asciiOnlyWhitespace()
            .asciiOnlyWordCharacters()
        _ = matches("")
    }

    /// Model patterns that backtrack catastrophically in a backtracking engine, with a linear pattern that matches
    /// exactly the same whole values (the Java cross-check compares the substitute against Java running the original).
    /// Found by an attack: a 19-character value kept the event loop busy for seconds.
    static let linearEquivalents: [String: String] = [
        // (x([-x]*x)){0,39}? with x = [a-z0-9]: every repetition ends in x and may be as long as it likes, so for a
        // whole-value match any number of repetitions from 1 on is the same as one.
        "[a-z0-9]([-a-z0-9]*[a-z0-9]){0,39}?": "[a-z0-9]([-a-z0-9]*[a-z0-9])?",
    ]

    /// Java's line terminators, which its `.` does not match (`java.util.regex.Pattern`, "Line terminators").
    static let javaDot = #"[^\n\r\x{85}\x{2028}\x{2029}]"#

    /// Rewrites constructs whose meaning differs from `java.util.regex`: an unescaped `.` outside a character class
    /// becomes `javaDot` (Swift's `.` also refuses U+000B and U+000C; the cross-check test found it).
    static func javaCompatible(_ pattern: String) -> String {
        var out = ""
        var escaped = false
        var classDepth = 0
        for character in pattern {
            if escaped {
                out.append(character)
                escaped = false
                continue
            }
            switch character {
            case "\\": escaped = true; out.append(character)
            case "[": classDepth += 1; out.append(character)
            case "]" where classDepth > 0: classDepth -= 1; out.append(character)
            case "." where classDepth == 0: out += javaDot
            default: out.append(character)
            }
        }
        return out
    }

    /// Whether the whole of `value` matches.
    public func matches(_ value: String) -> Bool {
        let key = ExactKey(value: value)
        if value.utf8.count <= 256, let known = memo.answers.withLock({ $0[key] }) { return known }
        let answer = (try? regex.wholeMatch(in: value)) != nil
        if value.utf8.count <= 256 {
            memo.answers.withLock { answers in
                if answers.count >= Self.memoLimit { answers.removeAll(keepingCapacity: true) }
                answers[key] = answer
            }
        }
        return answer
    }
}
