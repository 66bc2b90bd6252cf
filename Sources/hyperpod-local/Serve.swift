import AWSJSONProtocol
import ArgumentParser
import Dispatch
import AdminAPI
import HTTP1
import HyperPodDomain
import SageMakerShapes
import HyperPodLocal
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `hyperpod-local serve`: runs the emulator until SIGTERM or SIGINT, then drains and exits 0.
///
/// Every option can also come from the environment variable `HYPERPOD_LOCAL_<NAME>` (upper case, `-` → `_`);
/// a flag on the command line wins over the environment, which wins over the default.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the emulator.",
        discussion: """
            Every option also reads HYPERPOD_LOCAL_<NAME> from the environment (e.g. HYPERPOD_LOCAL_PORT=0); \
            the command line wins. Once listening, the first line on stdout is \
            'hyperpod-local listening on http://HOST:PORT'. Logs go to stderr.
            """
    )

    @Option(help: "Address to bind. (env HYPERPOD_LOCAL_HOST; default 127.0.0.1)")
    var host: String?

    @Option(help: "TCP port; 0 picks a free one. (env HYPERPOD_LOCAL_PORT; default 4580)")
    var port: UInt16?

    @Option(help: "SQLite database file. (env HYPERPOD_LOCAL_DB; default ./hyperpod-local.sqlite)")
    var db: String?

    @Flag(help: "Keep all state in memory; no database file. (env HYPERPOD_LOCAL_IN_MEMORY=1)")
    var inMemory = false

    @Option(help: "Region of unsigned requests. (env HYPERPOD_LOCAL_REGION; default us-east-1)")
    var region: String?

    @Option(help: "Account of requests whose access key id is not 12 digits. (env HYPERPOD_LOCAL_ACCOUNT_ID; default 000000000000)")
    var accountId: String?

    @Option(help: "off|parse|verify|enforce. parse: take account and region from the SigV4 credential scope; off: ignore auth headers; verify: every request must carry a valid SigV4 signature of a credential of --identities; enforce: verify, then the principal's IAM policies must allow the call (docs/authentication.md). (env HYPERPOD_LOCAL_AUTH; default parse)")
    var auth: String?

    @Option(help: "JSON file of principals with their IAM policies and the credentials that sign as them; needed by --auth verify and enforce, reloaded by POST /_hyperpod/auth/reload (docs/authentication.md). (env HYPERPOD_LOCAL_IDENTITIES)")
    var identities: String?

    @Flag(help: "Reject request members the model does not have (default: ignore and log them). (env HYPERPOD_LOCAL_STRICT_MEMBERS=1)")
    var strictMembers = false

    @Flag(help: "Check every response against the model's output shape; a mismatch answers 500 (on in debug builds). (env HYPERPOD_LOCAL_CHECK_RESPONSES=1)")
    var checkResponses = false

    @Option(help: "Largest request body in bytes, after gzip; over it → 413. (env HYPERPOD_LOCAL_MAX_BODY_BYTES; default 8388608)")
    var maxBodyBytes: Int?

    @Option(help: "Largest request line plus headers in bytes; over it → 431. (env HYPERPOD_LOCAL_MAX_HEADER_BYTES; default 16384)")
    var maxHeaderBytes: Int?

    @Option(help: "Seconds to receive a request's headers; then 408. (env HYPERPOD_LOCAL_HEADER_TIMEOUT; default 10)")
    var headerTimeout: Double?

    @Option(help: "Seconds an idle keep-alive connection stays open. (env HYPERPOD_LOCAL_IDLE_TIMEOUT; default 60)")
    var idleTimeout: Double?

    @Option(help: "Open connections at most; more are answered 503. (env HYPERPOD_LOCAL_MAX_CONNECTIONS; default 1024)")
    var maxConnections: Int?

    @Option(help: "trace|debug|info|notice|warning|error|critical. (env HYPERPOD_LOCAL_LOG_LEVEL; default info)")
    var logLevel: String?

    @Option(help: "real|manual: virtual time follows the wall clock, or moves only through POST /_hyperpod/clock. (env HYPERPOD_LOCAL_CLOCK; default real)")
    var clock: String?

    @Option(help: "Virtual seconds per wall second, real clock. (env HYPERPOD_LOCAL_TIME_SCALE; default 1)")
    var timeScale: Double?

    @Option(help: "instant|fast|realistic: durations of state transitions (docs/behaviour.md#r40). (env HYPERPOD_LOCAL_TIMING; default fast)")
    var timing: String?

    @Option(help: "Override one duration, e.g. --delay T_launch=30 (repeatable). (env HYPERPOD_LOCAL_DELAY, comma-separated)")
    var delay: [String] = []

    @Option(help: "Capacity pool: TYPE=N instances in the partition, or TYPE@ZONE=N for one zone (repeatable; docs/behaviour.md#r116). Unlimited by default. (env HYPERPOD_LOCAL_CAPACITY, comma-separated)")
    var capacity: [String] = []

    @Option(help: "Quota value: 'NAME=N' with a quota name of docs/behaviour.md#r84, e.g. 'ml.p5.48xlarge for cluster usage=8' (repeatable). (env HYPERPOD_LOCAL_QUOTA, comma-separated)")
    var quota: [String] = []

    @Option(help: "A number: seed for ids, addresses and random choices (reproducible runs). A directory: load its *.json seed files (CreateCluster requests, optionally with \"account\", \"region\", \"state\": \"InService\") at start, idempotently. Repeatable. (env HYPERPOD_LOCAL_SEED, comma-separated)")
    var seed: [String] = []

    @Option(help: "CORS: allowed origins, comma-separated, or * for any (docs/behaviour.md#r1). Off by default. (env HYPERPOD_LOCAL_CORS)")
    var cors: String?

    @Option(help: "on|off: the admin API beyond /_hyperpod/health. (env HYPERPOD_LOCAL_ADMIN; default on)")
    var admin: String?

    @Option(help: "Require this X-Hyperpod-Admin-Token on admin routes but health. (env HYPERPOD_LOCAL_ADMIN_TOKEN)")
    var adminToken: String?

    @Flag(help: "Serve the admin API without --admin-token on an address other machines can reach (--host other than loopback), on purpose; without it such a server refuses to start. (env HYPERPOD_LOCAL_ADMIN_OPEN=1)")
    var adminOpen = false

    @Option(help: ArgumentHelp("Serve the dashboard (GET /_hyperpod/ui) from this file, read on every request, instead of the copy built in: for working on the page without rebuilding (docs/development.md). (env HYPERPOD_LOCAL_UI_FILE)", visibility: .hidden))
    var uiFile: String?

    @Option(help: "Write the listening address (http://HOST:PORT) and the pid to this file once listening; removed on a clean stop. 'hyperpod-local health' reads it (the container sets it). (env HYPERPOD_LOCAL_ADDRESS_FILE)")
    var addressFile: String?

    /// Checks every option before anything starts, so that a bad one prints `serve`'s usage (ArgumentParser shows the
    /// usage of the command whose `validate()` throws).
    func validate() throws { _ = try resolvedConfiguration() }

    /// The options resolved against `HYPERPOD_LOCAL_*` and the defaults.
    /// - Throws: `ValidationError` naming the option (or environment variable) and the value it refused.
    func resolvedConfiguration() throws -> (EmulatorConfiguration, Logger.Level) {
        let env = Environment()
        var config = EmulatorConfiguration()
        config.host = try env.resolve(host, "HOST", default: config.host)
        config.port = try env.resolve(port, "PORT", default: config.port)
        config.databasePath = try env.resolve(db, "DB", default: config.databasePath)
        config.inMemory = try inMemory || env.resolve(nil, "IN_MEMORY", default: false)
        config.region = try env.resolve(region, "REGION", default: config.region)
        config.accountID = try env.resolve(accountId, "ACCOUNT_ID", default: config.accountID)
        guard config.accountID.count == 12, config.accountID.allSatisfy(\.isNumber) else {
            throw ValidationError("--account-id must be 12 digits, got '\(config.accountID)'")
        }
        let authText = try env.resolve(auth, "AUTH", default: config.authMode.rawValue)
        guard let authMode = AWSAuthMode(rawValue: authText) else {
            throw ValidationError("--auth must be one of \(AWSAuthMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(authText)'")
        }
        config.authMode = authMode
        config.identitiesPath = identities ?? env.value("IDENTITIES")
        if authMode >= .verify && config.identitiesPath == nil {
            throw ValidationError("--auth \(authMode.rawValue) needs --identities FILE (env HYPERPOD_LOCAL_IDENTITIES): the credentials it checks signatures against")
        }
        config.strictMembers = try strictMembers || env.resolve(nil, "STRICT_MEMBERS", default: false)
        config.checkResponses = try checkResponses || env.resolve(nil, "CHECK_RESPONSES", default: config.checkResponses)
        config.limits.maxBodyBytes = try env.resolve(maxBodyBytes, "MAX_BODY_BYTES", default: config.limits.maxBodyBytes)
        config.limits.maxHeaderBytes = try env.resolve(maxHeaderBytes, "MAX_HEADER_BYTES", default: config.limits.maxHeaderBytes)
        config.limits.headerTimeout = try env.resolve(headerTimeout, "HEADER_TIMEOUT", default: config.limits.headerTimeout)
        config.limits.idleTimeout = try env.resolve(idleTimeout, "IDLE_TIMEOUT", default: config.limits.idleTimeout)
        config.limits.maxConnections = try env.resolve(maxConnections, "MAX_CONNECTIONS", default: config.limits.maxConnections)
        let maxTimeout = 1_000_000.0  // seconds (11.5 days): larger values would overflow the loop's nanosecond arithmetic
        guard (1...(1 << 30)).contains(config.limits.maxBodyBytes), (256...(1 << 20)).contains(config.limits.maxHeaderBytes),
              config.limits.headerTimeout > 0, config.limits.headerTimeout <= maxTimeout,
              config.limits.idleTimeout > 0, config.limits.idleTimeout <= maxTimeout, (1...1_000_000).contains(config.limits.maxConnections)
        else {
            throw ValidationError(
                "limits must be positive; --max-body-bytes at most 1073741824, --max-header-bytes from 256 to 1048576, "
                    + "timeouts at most 1000000 seconds, --max-connections at most 1000000")
        }
        let clockText = try env.resolve(clock, "CLOCK", default: "real")
        guard let clockMode = VirtualClock.Mode(rawValue: clockText) else {
            throw ValidationError("--clock must be real or manual, got '\(clockText)'")
        }
        config.clockMode = clockMode
        config.timeScale = try env.resolve(timeScale, "TIME_SCALE", default: 1)
        guard config.timeScale.isFinite, config.timeScale > 0, config.timeScale <= VirtualClock.maxTimeScale else {
            throw ValidationError("--time-scale must be > 0 and at most \(Int(VirtualClock.maxTimeScale))")
        }
        let timingText = try env.resolve(timing, "TIMING", default: "fast")
        guard let profile = TimingProfile.Name(rawValue: timingText) else {
            throw ValidationError("--timing must be instant, fast or realistic, got '\(timingText)'")
        }
        config.timing = TimingProfile(profile)
        let delays = delay.isEmpty ? (env.variables["HYPERPOD_LOCAL_DELAY"] ?? "").split(separator: ",").map(String.init) : delay
        for text in delays where !text.isEmpty {
            guard let (key, seconds) = TimingProfile.parseOverride(text) else {
                throw ValidationError("--delay takes KEY=SECONDS with a key of \(TimingProfile.Key.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
            }
            config.timing.override(key, seconds: seconds)
        }
        let pools = capacity.isEmpty ? (env.variables["HYPERPOD_LOCAL_CAPACITY"] ?? "").split(separator: ",").map(String.init) : capacity
        for text in pools where !text.isEmpty {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            let target = parts[0].split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2, let n = Int(parts[1]), n >= 0, ClusterInstanceType(rawValue: target[0]) != nil else {
                throw ValidationError("--capacity takes TYPE=N or TYPE@ZONE=N with a model instance type and N ≥ 0, got '\(text)'")
            }
            config.capacity[target[0], default: [:]][target.count == 2 ? target[1] : CapacityPools.allZones] = n
        }
        let quotas = quota.isEmpty ? (env.variables["HYPERPOD_LOCAL_QUOTA"] ?? "").split(separator: ",").map(String.init) : quota
        for text in quotas where !text.isEmpty {
            guard let eq = text.lastIndex(of: "="), let n = Int(text[text.index(after: eq)...]), n >= 0,
                  Quotas.Quota(name: String(text[..<eq])) != nil else {
                throw ValidationError("--quota takes 'NAME=N' with a quota name of docs/behaviour.md#r84 ('<instance type> for cluster usage', \(Quotas.Quota.fixed.map { "'\($0.name)'" }.joined(separator: ", "))) and N ≥ 0, got '\(text)'")
            }
            config.quotas[String(text[..<eq])] = n
        }
        let seeds = seed.isEmpty ? (env.variables["HYPERPOD_LOCAL_SEED"] ?? "").split(separator: ",").map(String.init) : seed
        for text in seeds where !text.isEmpty {
            if let value = UInt64(text) {
                config.seed = value
            } else {
                config.seedDirectories.append(text)
            }
        }
        config.corsOrigins = (cors ?? env.variables["HYPERPOD_LOCAL_CORS"] ?? "").split(separator: ",")
            .map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        let adminText = try env.resolve(admin, "ADMIN", default: "on")
        guard adminText == "on" || adminText == "off" else { throw ValidationError("--admin must be on or off, got '\(adminText)'") }
        config.adminEnabled = adminText == "on"
        if adminToken?.isEmpty == true { throw ValidationError("--admin-token must not be empty") }
        config.adminToken = adminToken ?? env.value("ADMIN_TOKEN")  // an empty HYPERPOD_LOCAL_ADMIN_TOKEN is no token
        config.adminOpen = try adminOpen || env.resolve(nil, "ADMIN_OPEN", default: false)
        config.dashboardFile = uiFile ?? env.value("UI_FILE")
        let levelText = try env.resolve(logLevel, "LOG_LEVEL", default: "info")
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: "|")), got '\(levelText)'")
        }

        return (config, level)
    }

    func run() throws {
        // Block SIGTERM and SIGINT before any thread exists (threads inherit the mask): a signal that arrives before
        // Dispatch has registered its sources then stays pending instead of being lost or killing the process, and
        // the sources below receive it either way.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        let (config, level) = try resolvedConfiguration()
        if let refusal = Self.exposedAdminRefusal(config) { throw refusal }

        LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0) }
        var logger = Logger(label: "hyperpod-local")
        logger.logLevel = level

        signal(SIGPIPE, SIG_IGN)
        let emulator: Emulator
        do {
            emulator = try Emulator(configuration: config, logger: logger)
        } catch let error as IdentitiesFileError {
            throw StartupError(description: error.description)
        }
        let address: SocketAddress
        do {
            address = try emulator.bind()
        } catch let error as SocketError {
            throw StartupError(listening: error, host: config.host, port: config.port)
        }
        let addressFile = addressFile ?? Environment().value("ADDRESS_FILE")
        for directory in config.seedDirectories {
            let created = try emulator.loadSeeds(from: directory)
            logger.info("seeds.loaded", metadata: ["directory": "\(directory)", "clusters": "\(created.joined(separator: ","))"])
        }
        // Their own queue: on the global queue a signal would wait behind background work (large bodies).
        let signalQueue = DispatchQueue(label: "hyperpod-local.signals")
        let signalSources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                logger.notice("server.stopping", metadata: ["signal": "\(number)"])
                emulator.stop()
            }
            source.resume()
            return source
        }
        // The address file before the stdout line: a harness that read the line finds the file written.
        if let addressFile { try AddressFile.write(address, to: addressFile) }
        defer { if let addressFile { AddressFile.remove(addressFile) } }
        announce(address)
        logger.info("server.started", metadata: [
            "http.address": "\(address)", "storage": "\(config.inMemory ? "in-memory" : config.databasePath)",
            "aws.region": "\(config.region)", "aws.account_id": "\(config.accountID)",
            "clock": "\(config.clockMode.rawValue)", "timing": "\(config.timing.name.rawValue)",
        ])
        emulator.run()
        signalSources.forEach { $0.cancel() }
        logger.info("server.stopped")
    }

    /// Writes the first stdout line, unbuffered, so a test harness can read the port.
    private func announce(_ address: SocketAddress) {
        let line = "hyperpod-local listening on http://\(address)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(STDOUT_FILENO, $0.baseAddress, $0.count - 1) }
    }
}

extension Serve {
    /// Whether `host` is a loopback address (`127.0.0.0/8`, `::1`, `localhost`): nothing outside this machine reaches it.

    /// Issue #18: the admin API can reset and rewrite every partition, so a server other machines can reach refuses to
    /// start without `--admin-token`, unless `--admin-open` (or `--admin off`) says the API is meant to be open or off.
    static func exposedAdminRefusal(_ config: EmulatorConfiguration) -> StartupError? {
        guard config.adminEnabled, config.adminToken == nil, !config.adminOpen, !AdminRouter.isLoopback(config.host) else { return nil }
        return StartupError(description: "refusing to serve the admin API without a token on \(config.host), an address other machines can reach: "
            + "anyone who reaches it could reset or rewrite every partition. Set --admin-token TOKEN (HYPERPOD_LOCAL_ADMIN_TOKEN), "
            + "or --admin-open (HYPERPOD_LOCAL_ADMIN_OPEN=1) to leave it open on purpose, or --admin off, or bind --host 127.0.0.1")
    }
}

/// A reason the server cannot start that is not a bad option: printed as `Error: <description>`, exit status 1.
struct StartupError: Error, CustomStringConvertible {
    let description: String

    init(description: String) { self.description = description }

    /// The listening socket could not be made: names `HOST:PORT` and says what to do about the usual causes.
    init(listening error: SocketError, host: String, port: UInt16) {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        switch (error.call, error.errno) {
        case ("bind", EADDRINUSE):
            description = "cannot listen on \(target): the port is in use by another process; "
                + "choose another with --port, or --port 0 for a free one (the first stdout line names it)"
        case ("bind", EACCES):
            description = "cannot listen on \(target): permission denied (ports below 1024 need privileges); "
                + "choose another with --port, or --port 0 for a free one"
        case ("bind", EADDRNOTAVAIL):
            description = "cannot listen on \(target): \(host) is not an address of this machine (--host)"
        case (let call, _) where call.hasPrefix("getaddrinfo"):
            description = "cannot listen on \(target): \(host) is not a valid host name or address (--host)"
        default:
            description = "cannot listen on \(target): \(error)"
        }
    }
}

/// The file `serve --address-file` writes once listening: `http://HOST:PORT` on the first line, `pid N` on the second.
/// `hyperpod-local health` reads it to find a server started on a port that only its command line knows.
enum AddressFile {
    /// Writes the file atomically (a temporary file renamed over it).
    /// - Throws: `StartupError` naming the path when it cannot be written.
    static func write(_ address: SocketAddress, to path: String) throws {
        let text = "http://\(address)\npid \(getpid())\n"
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StartupError(description: "cannot write the address file \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = Glibc.write(fd, bytes, bytes.count)
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StartupError(description: "cannot write the address file \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func remove(_ path: String) { unlink(path) }

    /// The host and port of the first line, or nil when the file is missing or not in this form.
    static func read(_ path: String) -> (host: String, port: UInt16)? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        var line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        while line.last == "\n" || line.last == "\r" { line.removeLast() }
        guard line.hasPrefix("http://"), let colon = line.lastIndex(of: ":"),
              let port = UInt16(line[line.index(after: colon)...]) else { return nil }
        var host = String(line[line.index(line.startIndex, offsetBy: 7)..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

/// `HYPERPOD_LOCAL_*` environment variables as option fallbacks.
struct Environment {
    let variables: [String: String]

    init() {
        var variables: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if text.hasPrefix("HYPERPOD_LOCAL_"), let eq = text.firstIndex(of: "=") {
                variables[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        self.variables = variables
    }

    /// `HYPERPOD_LOCAL_<name>` when set to something other than the empty string.
    func value(_ name: String) -> String? {
        guard let text = variables["HYPERPOD_LOCAL_\(name)"], !text.isEmpty else { return nil }
        return text
    }

    /// The command-line value, else `HYPERPOD_LOCAL_<name>`, else `fallback`.
    /// - Throws: `ValidationError` when the environment value does not convert.
    func resolve<T: LosslessStringConvertible>(_ value: T?, _ name: String, default fallback: T) throws -> T {
        if let value { return value }
        guard let text = self.value(name) else { return fallback }
        if T.self == Bool.self {
            switch text.lowercased() {
            case "1", "true", "yes", "on": return true as! T
            case "0", "false", "no", "off": return false as! T
            default: break
            }
        } else if let converted = T(text) {
            return converted
        }
        throw ValidationError("HYPERPOD_LOCAL_\(name)='\(text)' is not a valid value")
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
