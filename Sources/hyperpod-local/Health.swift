import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `hyperpod-local health`: asks a running server for `GET /_hyperpod/health` (spec RA1) and exits 0 on a 200, 1
/// otherwise — the container image's `HEALTHCHECK`, which has no curl.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a running server's /_hyperpod/health; exit 0 when it answers 200.")

    @Option(help: "Port of the server. (env HYPERPOD_LOCAL_PORT; default 4580)")
    var port: UInt16?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 2

    func run() throws {
        let environment = Environment()
        let port = port ?? environment.variables["HYPERPOD_LOCAL_PORT"].flatMap(UInt16.init) ?? 4580
        guard Self.check(port: port, timeoutSeconds: timeout) else { throw ExitCode.failure }
    }

    /// One HTTP/1.0 request to 127.0.0.1:`port`; true when the status line says 200.
    static func check(port: UInt16, timeoutSeconds: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let request = Array("GET /_hyperpod/health HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 12 else { return false }
        let statusLine = String(decoding: buffer[0..<n], as: UTF8.self)
        return statusLine.hasPrefix("HTTP/1.") && statusLine.dropFirst(8).hasPrefix(" 200 ")
    }
}
