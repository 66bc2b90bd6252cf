import Foundation
import JSON
import Testing
@testable import AWSJSONProtocol

/// Spec R15: every pattern of the model, over boundary strings and every string of the request corpus, matched by the
/// Swift `PatternMatcher` and by Java 17's `java.util.regex` (`Tests/java/PatternCheck.java`); the answers must agree.
///
/// Known differences: none for the model's patterns once `\d \s \w` are ASCII-only (this test found the `\s`
/// difference on U+00A0 and U+3000 in `(?!\s*$).+`).
struct PatternMatcherJavaCrossCheckTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var javaPath: String? {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/java" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let boundaryStrings: [String] = [
        "", " ", "a", "A", "z", "0", "9", "-", "_", ".", "/", ":", "=", "+", "@", "*", "$", "{", "\t", "\n", "\r\n",
        "a\n", "\na", "a\r", "a b", "a  b", "abc-def", "abc--def", "-abc", "abc-", "a_b", "a.b", "a..b", "a/b", "ab/",
        "é", "e\u{301}", "😀", "日本語", "\u{00A0}", "\u{2028}", "\u{3000}", "ﬁ", "Ⅻ", "٣", "\u{0000}", "\u{0B}", "\u{0C}", "\u{85}", "a\u{85}", "\u{2029}", "a\u{2028}b", "Ａ", "ß", "ǅ",
        "a\u{00A0}", "\u{00A0}a", "\u{3000}", "１２", "_\u{2028}", "٣٤", "a٣",
        String(repeating: "a", count: 63), String(repeating: "a", count: 64), String(repeating: "x", count: 300),
        "arn:aws:iam::111122223333:role/hyperpod", "arn:aws-cn:iam::111122223333:role/a/b", "arn:aws:iam::11112222333:role/x",
        "arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef012345", "arn:aws:sagemaker:us-east-1:111122223333:cluster/ABC",
        "i-0123456789abcdef0", "i-01234567", "i-0123456789", "i-0123456789ABCDEF0",
        "s3://bucket/prefix/", "s3://b", "s3:///x", "https://host/path", "http://host/path",
        "ml.c5.xlarge", "subnet-0123abcd", "sg-0123abcd", "${ROLE}", "$SUBNET_ID", "ami-0123456789abcdef0", "default",
        "alias/key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "key=value",
        "kubernetes.io/hostname", "nvidia.com/gpu", "example.com/a_b.c-d", "a.-b/c", "01234567-89ab-cdef-0123-456789abcdef",
        "cron(0 3 ? * SUN *)", "2026-11-30T00:00:00Z", "us-east-1a", "use1-az1", "apne1-az1",
    ]

    /// Every string value in the request corpus (`Tests/Fixtures/corpus/*.json`).
    static func corpusStrings() -> [String] {
        let corpus = repositoryRoot.appendingPathComponent("Tests/Fixtures/corpus")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: corpus.path) else { return [] }
        var strings: Set<String> = []
        func collect(_ value: JSONValue) {
            switch value {
            case .string(let s): strings.insert(s)
            case .array(let a): a.forEach(collect)
            case .object(let o): o.members.forEach { strings.insert($0.key); collect($0.value) }
            default: break
            }
        }
        for name in names where name.hasSuffix(".json") {
            if let data = FileManager.default.contents(atPath: corpus.appendingPathComponent(name).path),
               let value = try? JSONParser.parse([UInt8](data)) {
                collect(value)
            }
        }
        return strings.sorted()
    }

    @Test(.enabled(if: javaPath != nil, "needs java (Java 17 is on the build machines)"))
    func everyModelPattern_MatchesLikeJavaUtilRegex() throws {
        let patterns = Set(ServiceModel.sageMakerClusters.shapes.values.compactMap(\.pattern)).sorted()
        #expect(patterns.count > 20)
        let corpusStrings = Self.corpusStrings()
        #expect(corpusStrings.count > 100, "the request corpus under Tests/Fixtures/corpus is missing")
        let values = Self.boundaryStrings + corpusStrings
        var pairs: [(String, String)] = []
        for pattern in patterns { for value in values { pairs.append((pattern, value)) } }

        let input = FileManager.default.temporaryDirectory.appendingPathComponent("pattern-check-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: input) }
        let lines = pairs.map { Data($0.0.utf8).base64EncodedString() + "\t" + Data($0.1.utf8).base64EncodedString() }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.javaPath!)
        process.arguments = [Self.repositoryRoot.appendingPathComponent("Tests/java/PatternCheck.java").path, input.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let javaAnswers = String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0 == "1" }
        try #require(javaAnswers.count == pairs.count)

        let matchers = Dictionary(uniqueKeysWithValues: try patterns.map { ($0, try PatternMatcher($0)) })
        var disagreements: [String] = []
        var javaMatches = 0
        for (index, (pattern, value)) in pairs.enumerated() {
            let swift = matchers[pattern]!.matches(value)
            if javaAnswers[index] { javaMatches += 1 }
            if swift != javaAnswers[index] {
                disagreements.append("pattern \(pattern) value \(value.debugDescription): swift \(swift), java \(javaAnswers[index])")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements:\n\(disagreements.prefix(30).joined(separator: "\n"))")
        // The comparison is not vacuous: both answers occur often.
        #expect(javaMatches > 200)
        #expect(pairs.count - javaMatches > 200)
    }
}

/// The Java semantics the cross-check pinned down, as plain unit tests (they also run where no `java` is installed).
struct PatternMatcherTests {
    /// No model pattern may take long on adversarial input (a backtracking blow-up froze the server once).
    @Test func everyModelPattern_MatchesAdversarialInputQuickly() throws {
        // Lengths where an exponential pattern takes seconds (and fails the bound) but still finishes, so a regression
        // fails the test instead of hanging it.
        let attacks = ["a", "a-", "-a", "aa!", "0.", "a:", "ab/"].flatMap { seed in
            [12, 18].map { String(repeating: seed, count: $0) + "!" }
        }
        let clock = ContinuousClock()
        for shape in ServiceModel.sageMakerClusters.shapes.values {
            guard let pattern = shape.pattern else { continue }
            let matcher = try PatternMatcher(pattern)
            for value in attacks {
                let elapsed = clock.measure { _ = matcher.matches(value) }
                #expect(elapsed < .milliseconds(250), "\(pattern) on \(value.prefix(20))…: \(elapsed)")
            }
        }
    }

    @Test func everyModelPattern_Compiles() throws {
        for shape in ServiceModel.sageMakerClusters.shapes.values {
            guard let pattern = shape.pattern else { continue }
            _ = try PatternMatcher(pattern)
            #expect(shape.patternMatcher != nil, "\(shape.name)")
        }
    }

    @Test func wholeValue_NoTrailingNewlineExcused() throws {
        let m = try PatternMatcher("[a-z]+")
        #expect(m.matches("abc"))
        #expect(!m.matches("abc\n"))
        #expect(!m.matches("abc1"))
    }

    @Test func dot_RefusesOnlyJavaLineTerminators() throws {
        let m = try PatternMatcher(".")
        for accepted in ["a", "\u{0B}", "\u{0C}", "😀"] { #expect(m.matches(accepted), "\(accepted.debugDescription)") }
        for refused in ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] { #expect(!m.matches(refused), "\(refused.debugDescription)") }
        #expect(try PatternMatcher("[.]").matches("."))
        #expect(!(try PatternMatcher("[.]").matches("a")))
        #expect(!(try PatternMatcher(#"\."#).matches("a")))
    }

    @Test func shorthandClasses_AreASCIIOnly_PropertiesAreUnicode() throws {
        #expect(!(try PatternMatcher(#"\s"#).matches("\u{00A0}")))
        #expect(!(try PatternMatcher(#"\d"#).matches("٣")))
        #expect(!(try PatternMatcher(#"\w"#).matches("é")))
        #expect(try PatternMatcher(#"\p{L}"#).matches("é"))
        #expect(try PatternMatcher(#"\p{Z}"#).matches("\u{00A0}"))
    }

    @Test func memo_TellsCanonicallyEquivalentStringsApart() throws {
        let m = try PatternMatcher(#"[\p{L}]*"#)
        #expect(m.matches("\u{E9}"))           // é, one scalar: a letter
        #expect(!m.matches("e\u{301}"))        // e + combining acute: U+0301 is a mark, not a letter
        #expect(m.matches("\u{E9}"))           // asked again, from the memo
    }

    @Test func scalarSemantics_CombiningMarksAreSeparateCharacters() throws {
        #expect(!(try PatternMatcher(".").matches("e\u{301}")))
        #expect(try PatternMatcher("..").matches("e\u{301}"))
    }
}
