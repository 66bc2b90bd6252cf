// swift-tools-version:6.1
// hyperpod-local: a local emulator of the Amazon SageMaker HyperPod cluster control plane.
// Layering (one-way): hyperpod-local → HyperPodLocal → {AWSJSONProtocol, AdminAPI} → {HTTP1, JSON} → {CEventLoop, CZlib}.
import PackageDescription

let package = Package(
    name: "HyperPodLocal",
    products: [
        .executable(name: "hyperpod-local", targets: ["hyperpod-local"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // zlib from the system (`zlib1g-dev`): gzip request bodies and responses.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // One header exposing epoll/eventfd and a few socket calls that Glibc does not import cleanly.
        .target(name: "CEventLoop"),
        // HTTP/1.1 on POSIX sockets: parser, response encoder, epoll event loop. Knows nothing of AWS.
        .target(
            name: "HTTP1",
            dependencies: ["CEventLoop", "CZlib", .product(name: "Logging", package: "swift-log")]
        ),
        // RFC 8259 JSON value, parser and writer (no Foundation on the hot path).
        .target(name: "JSON"),
        // AWS JSON 1.1: X-Amz-Target routing, error envelopes, SigV4 credential scope.
        .target(name: "AWSJSONProtocol", dependencies: ["HTTP1", "JSON"]),
        // The emulator's own control surface under /_hyperpod/ (spec §14a).
        .target(name: "AdminAPI", dependencies: ["HTTP1", "JSON"]),
        // Application layer: configuration, composition of the routes, request logging.
        .target(
            name: "HyperPodLocal",
            dependencies: ["HTTP1", "JSON", "AWSJSONProtocol", "AdminAPI", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "hyperpod-local",
            dependencies: [
                "HyperPodLocal", "HTTP1",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "CZlib"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "AWSJSONProtocolTests", dependencies: ["AWSJSONProtocol", "HTTP1", "JSON"]),
        .testTarget(
            name: "HyperPodLocalTests",
            dependencies: ["HyperPodLocal", "HTTP1", "JSON", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
