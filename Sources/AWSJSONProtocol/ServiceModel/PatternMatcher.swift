/// A model pattern matched against a whole value, the way AWS's Java validator does (spec R15):
/// `\A(?:pattern)\z` — a match must cover the whole string (a trailing newline is not excused), with Unicode-scalar
/// (not grapheme-cluster) semantics, so `.` and classes see code points as `java.util.regex` does.
///
/// Differences from `java.util.regex` found by the cross-check test (`PatternMatcherJavaCrossCheckTests`) are listed
/// there; none is known for the model's patterns.
public struct PatternMatcher: @unchecked Sendable {
    // @unchecked because: `Regex<AnyRegexOutput>` is not declared Sendable on this toolchain, but a compiled regex is
    // an immutable value; its lazily lowered program is initialised once, and `init` forces that with one match
    // before the value is shared, so concurrent `wholeMatch` calls only read it.
    private let regex: Regex<AnyRegexOutput>
    public let pattern: String

    /// Compiles `pattern` (the model's text, without anchors).
    /// - Throws: the standard library's regex syntax error.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        self.regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
        _ = matches("")
    }

    /// Whether the whole of `value` matches.
    public func matches(_ value: String) -> Bool {
        (try? regex.wholeMatch(in: value)) != nil
    }
}
