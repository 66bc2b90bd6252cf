// swift-tools-version:6.1
// libFuzzer targets for hyperpod-local's parsers (issue #8). Build and run with scripts/fuzz.sh TARGET SECONDS; this
// package stays out of the main build (-sanitize=fuzzer needs its own flags and the lld linker).
import PackageDescription

let package = Package(
    name: "HyperPodLocalFuzz",
    dependencies: [.package(name: "hyperpod-local", path: "../..")],
    targets: [
        .executableTarget(
            name: "FuzzTargets",
            dependencies: [.product(name: "HyperPodLocalParsers", package: "hyperpod-local")]
        ),
    ]
)
