import AWSJSONProtocol
import AdminAPI
import HTTP1
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: builds the routers and the HTTP server from an `EmulatorConfiguration`.
///
/// Start order: (store, scheduler — later issues), then server; `stop()` reverses it.
///
/// ```swift
/// let emulator = Emulator(configuration: config, logger: logger)
/// let address = try emulator.bind()   // e.g. 127.0.0.1:4580
/// emulator.run()                      // until stop()
/// ```
public final class Emulator: Sendable {
    /// The emulator's semantic version.
    public static let version = "0.1.0"

    public let configuration: EmulatorConfiguration
    let server: HTTPServer

    public init(configuration: EmulatorConfiguration, logger: Logger) {
        self.configuration = configuration
        let startedAt = HyperPodHTTPHandler.monotonicSeconds()
        let handler = HyperPodHTTPHandler(
            aws: AWSJSONRouter(
                handlers: [:], authMode: configuration.authMode,
                defaultAccountID: configuration.accountID, defaultRegion: configuration.region,
                strictMembers: configuration.strictMembers, checkResponses: configuration.checkResponses
            ),
            admin: AdminRouter(version: Self.version, uptimeSeconds: { HyperPodHTTPHandler.monotonicSeconds() - startedAt }),
            logger: logger
        )
        server = HTTPServer(
            host: configuration.host, port: configuration.port, limits: configuration.limits, handler: handler, logger: logger
        )
    }

    /// Binds the listening socket.
    /// - Returns: the bound address (the real port when configured with 0).
    /// - Throws: `SocketError`.
    public func bind() throws -> SocketAddress { try server.bind() }

    /// Serves until `stop()`, then returns once in-flight requests are answered (at most 4.5 s after `stop()`).
    public func run() { server.run() }

    /// Begins a graceful stop; safe from any thread (signal sources call it).
    public func stop() { server.shutdown() }
}
