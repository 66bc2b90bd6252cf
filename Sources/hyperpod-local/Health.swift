import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `hyperpod-local health`: asks a running server for `GET /_hyperpod/health` (docs/behaviour.md#ra1) and exits 0 on
/// a 200, 1 otherwise, printing why on stderr — the container image's `HEALTHCHECK`, which has no curl.
///
/// Where the server is, first found wins: `--host`/`--port`; the address file (`--address-file` or
/// `HYPERPOD_LOCAL_ADDRESS_FILE`, written by `serve --address-file`, so a port given to `serve` by flag is followed);
/// `HYPERPOD_LOCAL_HOST`/`HYPERPOD_LOCAL_PORT`; `127.0.0.1:4580`. A wildcard host (`0.0.0.0`, `::`) is asked on
/// loopback.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a running server's /_hyperpod/health; exit 0 when it answers 200, else print why and exit 1.",
        discussion: """
            The server is looked for at --host/--port, else at the address in the address file \
            (--address-file or HYPERPOD_LOCAL_ADDRESS_FILE, written by 'serve --address-file'), \
            else at HYPERPOD_LOCAL_HOST/HYPERPOD_LOCAL_PORT, else at 127.0.0.1:4580.
            """
    )

    @Option(help: "Host of the server; 0.0.0.0 and :: mean loopback. (env HYPERPOD_LOCAL_HOST; default 127.0.0.1)")
    var host: String?

    @Option(help: "Port of the server. (env HYPERPOD_LOCAL_PORT; default 4580)")
    var port: UInt16?

    @Option(help: "The address file a server was started with (serve --address-file). (env HYPERPOD_LOCAL_ADDRESS_FILE)")
    var addressFile: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 2

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 3600 seconds, got \(timeout)") }
    }

    func run() throws {
        let environment = Environment()
        var target = (host: "127.0.0.1", port: UInt16(4580))
        let file = addressFile ?? environment.value("ADDRESS_FILE")
        var note = ""
        if host == nil, port == nil, let file, let recorded = AddressFile.read(file) {
            target = recorded
        } else {
            if host == nil, port == nil, let file {
                note = " (no address in \(file): is the server up, and started with --address-file \(file)?)"
            }
            if let text = environment.value("HOST") { target.host = text }
            if let text = environment.value("PORT") {
                guard let value = UInt16(text) else { throw ValidationError("HYPERPOD_LOCAL_PORT='\(text)' is not a port") }
                target.port = value
            }
            if let host { target.host = host }
            if let port { target.port = port }
        }
        if let failure = Self.check(host: target.host, port: target.port, timeoutSeconds: timeout) {
            let shown = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
            printError("hyperpod-local health: \(shown): \(failure)\(note)")
            throw ExitCode.failure
        }
    }

    /// One HTTP/1.0 `GET /_hyperpod/health` to `host:port` (a wildcard host is asked on loopback).
    /// - Returns: nil when the status line says 200, else why not (connection refused, timed out, another status).
    static func check(host: String, port: UInt16, timeoutSeconds: Int) -> String? {
        let asked = host == "0.0.0.0" || host.isEmpty ? "127.0.0.1" : host == "::" ? "::1" : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var info: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(asked, String(port), &hints, &info)
        guard rc == 0, let first = info else {
            return "cannot resolve host \(asked): \(String(cString: gai_strerror(rc)))"
        }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason = errno == ECONNREFUSED ? "connection refused: no server listens there"
                : errno == EINPROGRESS || errno == EAGAIN ? "no connection within \(timeoutSeconds) s"
                : String(cString: strerror(errno))
            return reason
        }
        let request = Array("GET /_hyperpod/health HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            return "sending the request failed: \(String(cString: strerror(errno)))"
        }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0 {
            return errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within \(timeoutSeconds) s" : String(cString: strerror(errno))
        }
        let answer = String(decoding: buffer[0..<max(n, 0)], as: UTF8.self)
        guard answer.hasPrefix("HTTP/1.") else {
            return n == 0 ? "the connection closed without an answer" : "the answer is not HTTP"
        }
        let statusLine = answer.prefix { !$0.isNewline }
        return statusLine.dropFirst(8).hasPrefix(" 200 ") ? nil : "answered \(statusLine)"
    }

    private func printError(_ text: String) {
        let line = text + "\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
    }
}
