#!/usr/bin/env bash
# Runs one libFuzzer target for a number of seconds (issue #8):
#   scripts/fuzz.sh http-parser|chunked|gzip|json-validator|sigv4|identities|iam-policy|sigv4-verify SECONDS
# Seeds come from Tests/Fuzz/Corpus/TARGET (committed); new interesting inputs go to .build-fuzz/corpus/TARGET, crashes
# to .build-fuzz/crashes/ — each becomes a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:?target: http-parser, chunked, gzip, json-validator, sigv4, identities, iam-policy or sigv4-verify}
SECONDS_TO_RUN=${2:-60}
swift build -c release --package-path Tests/Fuzz --scratch-path .build-fuzz/build \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --product FuzzTargets
mkdir -p ".build-fuzz/corpus/$TARGET" .build-fuzz/crashes
# -detect_leaks=0: the standard library's regex compiler (_RegexParser) leaks the same ~200 KB once when the model's
# patterns are first compiled, however many inputs run (2,000 or 200,000 runs: 203,636 bytes either way); a leak that
# grew with the inputs would show as rising rss in the final stats instead.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" exec .build-fuzz/build/release/FuzzTargets "$TARGET" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=4096 -detect_leaks=0 \
  -artifact_prefix=.build-fuzz/crashes/"$TARGET"- -print_final_stats=1 ".build-fuzz/corpus/$TARGET" "Tests/Fuzz/Corpus/$TARGET"
