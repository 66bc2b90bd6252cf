#if canImport(Glibc)
import Glibc
#endif
import CEventLoop

/// Every system call of the HTTP layer lives here, with EINTR retried in one place.
enum Socket {
    /// Runs `body` until it returns something other than -1 with `errno == EINTR`.
    @inline(__always)
    static func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let result = body()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }

    /// Creates a non-blocking TCP listening socket bound to `host:port` (`port` 0 picks a free port).
    /// - Returns: the listening descriptor and the address actually bound.
    /// - Throws: `SocketError` for `getaddrinfo`, `socket`, `setsockopt`, `bind`, `listen` or `getsockname`.
    static func makeListener(host: String, port: UInt16, backlog: Int32) throws -> (fd: Int32, address: SocketAddress) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var info: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &info)
        guard rc == 0, let first = info else {
            throw SocketError(call: "getaddrinfo(\(host))", errno: rc == EAI_SYSTEM ? errno : EINVAL)
        }
        defer { freeaddrinfo(info) }

        let fd = cel_socket_stream(first.pointee.ai_family)
        guard fd >= 0 else { throw SocketError.makeFailed("socket") }
        do {
            guard cel_set_int_option(fd, cel_sol_socket(), cel_so_reuseaddr(), 1) == 0 else {
                throw SocketError.makeFailed("setsockopt(SO_REUSEADDR)")
            }
            guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
                throw SocketError.makeFailed("bind")
            }
            guard listen(fd, backlog) == 0 else { throw SocketError.makeFailed("listen") }
            return (fd, try localAddress(of: fd))
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// The address a socket is bound to (`getsockname`).
    static func localAddress(of fd: Int32) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { throw SocketError.makeFailed("getsockname") }
        return SocketAddress(storage)
    }

    /// Accepts one connection (non-blocking, close-on-exec) and sets `TCP_NODELAY`.
    /// - Returns: the descriptor, or `nil` when no connection is waiting (`EAGAIN`) or it was aborted.
    /// - Throws: `SocketError` for other failures (`EMFILE`, `ENFILE`, …).
    static func accept(_ listener: Int32) throws -> Int32? {
        let fd = retryingEINTR { cel_accept(listener) }
        if fd >= 0 {
            _ = cel_set_int_option(fd, cel_ipproto_tcp(), cel_tcp_nodelay(), 1)
            return fd
        }
        switch errno {
        case EAGAIN, EWOULDBLOCK, ECONNABORTED, EPROTO: return nil
        default: throw SocketError.makeFailed("accept4")
        }
    }

    /// Outcome of one non-blocking `recv` or `send`.
    enum IOResult {
        case transferred(Int)
        case wouldBlock
        case closed
        case failed(SocketError)
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        let n = retryingEINTR { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
        if n > 0 { return .transferred(n) }
        if n == 0 { return .closed }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
        return .failed(.makeFailed("recv"))
    }

    /// `send` with `MSG_NOSIGNAL`: a peer that went away yields `EPIPE`, never SIGPIPE.
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> IOResult {
        let n = retryingEINTR { cel_send(fd, buffer.baseAddress, buffer.count) }
        if n >= 0 { return .transferred(n) }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
        return .failed(.makeFailed("send"))
    }

    static func shutdownWrite(_ fd: Int32) { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    static func makeEpoll() throws -> Int32 {
        let fd = cel_epoll_create()
        guard fd >= 0 else { throw SocketError.makeFailed("epoll_create1") }
        return fd
    }

    static func makeEventFD() throws -> Int32 {
        let fd = cel_eventfd()
        guard fd >= 0 else { throw SocketError.makeFailed("eventfd") }
        return fd
    }

    static func epollAdd(_ epfd: Int32, fd: Int32, events: UInt32, token: UInt64) throws {
        guard cel_epoll_add(epfd, fd, events, token) == 0 else { throw SocketError.makeFailed("epoll_ctl(ADD)") }
    }

    static func epollRemove(_ epfd: Int32, fd: Int32) { _ = cel_epoll_del(epfd, fd) }

    /// Waits for events; returns 0 on EINTR so the caller just loops.
    static func epollWait(
        _ epfd: Int32, events: UnsafeMutablePointer<UInt32>, tokens: UnsafeMutablePointer<UInt64>,
        capacity: Int32, timeoutMilliseconds: Int32
    ) -> Int32 {
        let n = cel_epoll_wait(epfd, events, tokens, capacity, timeoutMilliseconds)
        return n < 0 ? 0 : n
    }

    /// Adds 1 to an eventfd counter (wakes the loop). Safe from any thread.
    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = retryingEINTR { Glibc.write(fd, &one, 8) }
    }

    /// Resets an eventfd counter to zero.
    static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        _ = retryingEINTR { Glibc.read(fd, &value, 8) }
    }

    /// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`): timeouts, never timestamps.
    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
