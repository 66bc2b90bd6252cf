#if canImport(Glibc)
import Glibc
#endif
import CEventLoop
import Dispatch
import Logging
import Synchronization

/// An HTTP/1.1 server on non-blocking POSIX sockets, driven by one edge-triggered epoll loop.
///
/// The loop owns the listening socket and every connection; parsing, handler calls and writes happen on it.
/// Handlers may answer later from other threads: their responses come back through a locked inbox and an eventfd,
/// and are written in request order (pipelining). Limits are `HTTPLimits`; all durations are wall-clock seconds.
///
/// ```swift
/// let server = HTTPServer(host: "127.0.0.1", port: 0, limits: HTTPLimits(), handler: app, logger: logger)
/// let address = try server.bind()     // the port actually bound
/// try server.run()                    // returns after shutdown() has drained the connections
/// ```
///
/// `@unchecked Sendable` because: every stored `var` is touched only by the thread inside `run()` (the loop thread),
/// except `inbox` (a `Mutex`) and `shutdownRequested`/`draining`/`loopThread` (atomics); `deliver(...)` and
/// `shutdown()` are the only entry points for other threads, and they go through those.
public final class HTTPServer: @unchecked Sendable {
    public let host: String
    public let port: UInt16
    public let limits: HTTPLimits
    let handler: any HTTPRequestHandler
    let logger: Logger
    /// How long a graceful shutdown waits for in-flight requests, in seconds.
    public let drainTimeout: Double

    private static let listenerToken: UInt64 = 0
    private static let wakeToken: UInt64 = 1
    /// Connections over `maxConnections` that still get a 503; beyond these, an excess connection is closed at once.
    static let maxRejectedConnections = 64
    private static let lingerSeconds = 2.0
    /// Encoded responses waiting to be written on one connection before it stops reading (a client that pipelines
    /// and never reads must not grow the server's memory).
    static let maxPendingOutboundBytes = 1 << 20
    /// Received bytes buffered ahead of the parser on one connection before it stops reading.
    static let maxBufferedInputBytes = 1 << 20
    /// Body bytes of dispatched, unwritten requests on one connection beyond which it stops reading: many small
    /// requests may be in flight, but only one large one (a client pipelining large bodies without reading the
    /// answers must not hold gigabytes).
    static let maxQueuedBodyBytes = 64 * 1024

    private struct Delivery { var connectionID: UInt64; var sequence: UInt64; var bytes: [UInt8]; var close: Bool }
    private struct Inbox { var deliveries: [Delivery] = []; var stopped = false; var wakeFD: Int32 = -1 }
    private let inbox = Mutex(Inbox())
    private let shutdownRequested = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let loopThread = Atomic<UInt>(0)

    // Loop-confined state.
    private var listenerFD: Int32 = -1
    private var listenerActive = false
    private var epollFD: Int32 = -1
    private var wakeFD: Int32 = -1
    private var connections: [UInt64: HTTPConnection] = [:]
    private var activeConnections = 0
    private var rejectedConnections = 0
    private var nextConnectionID: UInt64 = 2
    private var revisit: [UInt64] = []
    private var drainDeadline: UInt64 = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Inflates encoded bodies off the event loop, one at a time (bounded CPU and memory for the whole server).
    private let inflationQueue = DispatchQueue(label: "http1.inflate")

    public init(
        host: String, port: UInt16, limits: HTTPLimits, handler: any HTTPRequestHandler, logger: Logger,
        drainTimeout: Double = 4.5
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.handler = handler
        self.logger = logger
        self.drainTimeout = drainTimeout
    }

    deinit {
        scratch.deallocate()
    }

    /// True once a graceful shutdown has begun: responses then carry `Connection: close`.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Binds and listens. Call once, before `run()`.
    /// - Returns: the bound address (with the real port when `port` was 0).
    /// - Throws: `SocketError` (e.g. `bind` with `EADDRINUSE`).
    public func bind() throws -> SocketAddress {
        let (fd, address) = try Socket.makeListener(host: host, port: port, backlog: 1024)
        listenerFD = fd
        epollFD = try Socket.makeEpoll()
        wakeFD = try Socket.makeEventFD()
        inbox.withLock { $0.wakeFD = wakeFD }
        try Socket.epollAdd(epollFD, fd: wakeFD, events: UInt32(CEL_EPOLLIN), token: Self.wakeToken)
        try Socket.epollAdd(epollFD, fd: listenerFD, events: UInt32(CEL_EPOLLIN), token: Self.listenerToken)
        listenerActive = true
        return address
    }

    /// Asks the server to stop: no new connections, in-flight requests finish, then `run()` returns
    /// (at most `drainTimeout` seconds later). Safe from any thread, e.g. a signal source.
    public func shutdown() {
        shutdownRequested.store(true, ordering: .sequentiallyConsistent)
        inbox.withLock { if !$0.stopped { Socket.signalEventFD($0.wakeFD) } }
    }

    /// Runs the event loop on the calling thread until a `shutdown()` has drained every connection.
    public func run() {
        loopThread.store(UInt(pthread_self()), ordering: .sequentiallyConsistent)
        let capacity: Int32 = 256
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(capacity))
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(capacity))
        defer { events.deallocate(); tokens.deallocate() }
        let sweepInterval = max(0.01, min(0.25, min(limits.headerTimeout, limits.idleTimeout) / 10))
        var nextSweep = Socket.monotonicNanoseconds()

        while true {
            let timeout: Int32 = revisit.isEmpty ? Int32(sweepInterval * 1000) : 0
            let count = Socket.epollWait(epollFD, events: events, tokens: tokens, capacity: capacity, timeoutMilliseconds: timeout)
            var now = Socket.monotonicNanoseconds()
            if !revisit.isEmpty {
                let again = revisit
                revisit.removeAll()
                for id in again { if let connection = connections[id] { service(connection, now: now) } }
            }
            for i in 0..<Int(count) {
                switch tokens[i] {
                case Self.listenerToken:
                    acceptConnections(now: now)
                case Self.wakeToken:
                    Socket.drainEventFD(wakeFD)
                    processInbox(now: now)
                default:
                    guard let connection = connections[tokens[i]] else { continue }
                    let mask = events[i]
                    if mask & UInt32(CEL_EPOLLOUT) != 0 { connection.writable = true }
                    if mask & UInt32(CEL_EPOLLIN | CEL_EPOLLRDHUP | CEL_EPOLLHUP | CEL_EPOLLERR) != 0 { connection.readable = true }
                    if mask & UInt32(CEL_EPOLLRDHUP | CEL_EPOLLHUP | CEL_EPOLLERR) != 0 { connection.hangupSeen = true }
                    service(connection, now: now)
                }
            }
            if shutdownRequested.load(ordering: .relaxed) && !draining.load(ordering: .relaxed) {
                beginDrain(now: now)
            }
            now = Socket.monotonicNanoseconds()
            if now >= nextSweep {
                sweep(now: now)
                nextSweep = now + UInt64(sweepInterval * 1e9)
            }
            if draining.load(ordering: .relaxed) {
                for connection in Array(connections.values) where connection.isIdle && connection.lingerDeadline == nil {
                    close(connection)
                }
                if connections.isEmpty || now >= drainDeadline { break }
            }
        }
        for connection in Array(connections.values) { close(connection) }
        inbox.withLock {
            $0.stopped = true
            $0.deliveries.removeAll()
        }
        if listenerActive { Socket.close(listenerFD) }
        Socket.close(wakeFD)
        Socket.close(epollFD)
    }

    // MARK: - Answers from handlers

    /// Hands an encoded response to its connection. On the loop thread it is applied at once; from any other thread it
    /// goes through the inbox and wakes the loop.
    func deliver(connectionID: UInt64, sequence: UInt64, bytes: [UInt8], close: Bool) {
        if loopThread.load(ordering: .relaxed) == UInt(pthread_self()) {
            guard let connection = connections[connectionID] else { return }
            connection.fill(sequence: sequence, bytes: bytes, close: close)
            // The caller (dispatch) flushes after the handler returns; a later synchronous delivery is flushed by the
            // service pass that is running.
            return
        }
        inbox.withLock {
            guard !$0.stopped else { return }
            $0.deliveries.append(Delivery(connectionID: connectionID, sequence: sequence, bytes: bytes, close: close))
            if $0.deliveries.count == 1 { Socket.signalEventFD($0.wakeFD) }
        }
    }

    private func processInbox(now: UInt64) {
        let deliveries = inbox.withLock { inbox -> [Delivery] in
            defer { inbox.deliveries.removeAll(keepingCapacity: true) }
            return inbox.deliveries
        }
        var touched: [UInt64] = []
        for delivery in deliveries {
            guard let connection = connections[delivery.connectionID] else { continue }
            connection.fill(sequence: delivery.sequence, bytes: delivery.bytes, close: delivery.close)
            touched.append(delivery.connectionID)
        }
        for id in touched { if let connection = connections[id] { service(connection, now: now) } }
    }

    // MARK: - Accepting

    private func acceptConnections(now: UInt64) {
        for _ in 0..<128 {
            let fd: Int32
            do {
                guard let accepted = try Socket.accept(listenerFD) else { return }
                fd = accepted
            } catch {
                // Out of descriptors (EMFILE/ENFILE): stop polling the listener until the next sweep, or the
                // level-triggered listener would spin.
                logger.warning("http.accept_failed", metadata: ["error": "\(error)"])
                Socket.epollRemove(epollFD, fd: listenerFD)
                listenerActive = false
                return
            }
            let rejected = activeConnections >= limits.maxConnections
            if rejected && rejectedConnections >= Self.maxRejectedConnections {
                Socket.close(fd)
                continue
            }
            let connection = HTTPConnection(id: nextConnectionID, fd: fd, limits: limits, now: now, isRejected: rejected)
            nextConnectionID += 1
            do {
                try Socket.epollAdd(
                    epollFD, fd: fd, events: cel_connection_events(),
                    token: connection.id
                )
            } catch {
                logger.warning("http.epoll_add_failed", metadata: ["error": "\(error)"])
                Socket.close(fd)
                continue
            }
            connections[connection.id] = connection
            if rejected {
                rejectedConnections += 1
                logger.warning("http.connection_refused", metadata: ["http.max_connections": "\(limits.maxConnections)"])
                refuse(connection, status: .serviceUnavailable, reason: "Too many open connections (limit \(limits.maxConnections))")
                service(connection, now: now)
            } else {
                activeConnections += 1
            }
        }
    }

    // MARK: - Reading, dispatching, writing

    /// Reads what is available, hands complete requests to the handler, and writes what is answered, until the
    /// connection has nothing more to do now.
    private func service(_ connection: HTTPConnection, now: UInt64) {
        var rounds = 0
        while !connection.isClosed {
            if connection.lingerDeadline != nil {
                discardInput(connection)
                return
            }
            if connection.readable && canRead(connection) { read(connection, now: now) }
            if connection.isClosed { return }
            dispatch(connection, now: now)
            flush(connection, now: now)
            if connection.isClosed || connection.lingerDeadline != nil { return }
            if connection.peerClosed && !connection.dispatchBlocked && connection.queuedResponseCount == 0
                && connection.outboundOffset >= connection.outbound.count {
                close(connection)  // the client sent all it will send, and all of it is answered
                return
            }
            rounds += 1
            // Go round again while there is input to take: unread socket data, or buffered requests that waited for
            // room (edge-triggered: neither raises a new event by itself).
            guard (connection.readable && canRead(connection)) || (connection.dispatchBlocked && canDispatch(connection)) else { return }
            if rounds >= 16 {
                // Let other connections run; come back on the next loop turn (no new edge will come for this data).
                revisit.append(connection.id)
                return
            }
        }
    }

    /// Room to parse and dispatch another request: few enough responses queued and bytes waiting to be written.
    private func canDispatch(_ connection: HTTPConnection) -> Bool {
        connection.acceptingRequests && connection.queuedResponseCount < limits.maxPipelinedRequests
            && connection.outbound.count - connection.outboundOffset < Self.maxPendingOutboundBytes
            && connection.queuedBodyBytes <= Self.maxQueuedBodyBytes
    }

    private func canRead(_ connection: HTTPConnection) -> Bool {
        canDispatch(connection) && !connection.peerClosed && connection.parser.bufferedByteCount < Self.maxBufferedInputBytes
    }

    private func read(_ connection: HTTPConnection, now: UInt64) {
        while canRead(connection) {
            switch Socket.receive(connection.fd, into: scratch) {
            case .transferred(let n):
                connection.parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                connection.lastActivity = now
                if connection.headStartedAt == nil { connection.headStartedAt = now }
                dispatch(connection, now: now)
                if n < scratch.count && !connection.hangupSeen {
                    // A short read drained the socket; the next arrival raises a new edge. (After a hang-up no edge
                    // will come: read on to see the EOF.)
                    connection.readable = false
                    return
                }
            case .wouldBlock:
                connection.readable = false
                return
            case .closed:
                connection.readable = false
                connection.peerClosed = true
                return
            case .failed:
                close(connection)
                return
            }
        }
    }

    /// Parses buffered bytes into requests and calls the handler for each, in order.
    private func dispatch(_ connection: HTTPConnection, now: UInt64) {
        connection.dispatchBlocked = false
        while connection.acceptingRequests {
            guard canDispatch(connection) else {
                connection.dispatchBlocked = true
                break
            }
            let event: HTTPRequestParser.Event
            do {
                event = try connection.parser.next()
            } catch {
                refuse(connection, status: error.status, reason: error.reason)
                break
            }
            switch event {
            case .needMoreData:
                if connection.peerClosed { connection.acceptingRequests = false }
                updateHeadTimer(connection, now: now)
                return
            case .sendContinue:
                connection.enqueueReady(HTTPResponseEncoder.continueResponse, close: false)
            case .request(let request):
                connection.requestsServed += 1
                connection.headStartedAt = nil  // the next request's clock starts with its own first byte
                // An encoded body counts as large until answered: nothing after it on this connection is dispatched
                // before its handler was called, so handlers still see the connection's requests in order.
                let weight = request.bodyIsEncoded ? Self.maxQueuedBodyBytes + 1 : request.body.count
                let followsUnanswered = connection.hasUnansweredRequest
                let sequence = connection.reserveSlot(bodyBytes: weight)
                let responder = HTTPResponder(server: self, connectionID: connection.id, sequence: sequence, request: request,
                                              followsUnanswered: followsUnanswered)
                if !responder.keepAlive || draining.load(ordering: .relaxed) { connection.acceptingRequests = false }
                if request.bodyIsEncoded {
                    let limit = limits.maxBodyBytes
                    let handler = self.handler
                    inflationQueue.async {
                        Self.inflateAndHandle(request, limit: limit, handler: handler, responder: responder)
                    }
                    updateHeadTimer(connection, now: now)
                    return
                }
                handler.handle(request, responder: responder)
                if request.body.count > Self.maxQueuedBodyBytes {
                    // A large (possibly just inflated) body was work: let the other connections run before this one
                    // parses (and perhaps inflates) its next request.
                    connection.dispatchBlocked = true
                    revisit.append(connection.id)
                    updateHeadTimer(connection, now: now)
                    return
                }
            }
        }
        updateHeadTimer(connection, now: now)
    }

    private func updateHeadTimer(_ connection: HTTPConnection, now: UInt64) {
        if connection.parser.progress == .idle {
            connection.headStartedAt = nil
        } else if connection.headStartedAt == nil {
            connection.headStartedAt = now
        }
    }

    /// Inflates an encoded body (on the inflation queue) and hands the request on, or refuses it (400, 413).
    private static func inflateAndHandle(_ request: HTTPRequest, limit: Int, handler: any HTTPRequestHandler, responder: HTTPResponder) {
        let decoded: HTTPRequest
        do {
            decoded = try request.decodingContent(limit: limit)
        } catch {
            responder.refuse(status: error.status, reason: error.reason)
            return
        }
        handler.handle(decoded, responder: responder)
    }

    /// Queues a protocol error response that closes the connection.
    private func refuse(_ connection: HTTPConnection, status: HTTPStatus, reason: String) {
        let response = handler.makeProtocolErrorResponse(status: status, reason: reason)
        connection.enqueueReady(
            HTTPResponseEncoder.encode(response, version: .http1_1, keepAlive: false, acceptsGzip: false),
            close: true
        )
        connection.acceptingRequests = false
    }

    private func flush(_ connection: HTTPConnection, now: UInt64) {
        connection.moveAnsweredToOutbound()
        while connection.writable && connection.outboundOffset < connection.outbound.count {
            let result = connection.outbound.withUnsafeBytes { bytes in
                Socket.send(connection.fd, UnsafeRawBufferPointer(rebasing: bytes[connection.outboundOffset...]))
            }
            switch result {
            case .transferred(let n):
                connection.outboundOffset += n
                connection.lastActivity = now
            case .wouldBlock:
                connection.writable = false
            case .closed, .failed:
                close(connection)
                return
            }
        }
        guard connection.outboundOffset >= connection.outbound.count else { return }
        connection.outbound.removeAll(keepingCapacity: connection.outbound.capacity <= 64 * 1024)
        connection.outboundOffset = 0
        if connection.closeAfterFlush { startLingering(connection, now: now) }
    }

    /// Shuts the write side and reads (and drops) what the client still sends, so the client sees the last response
    /// instead of a reset (RFC 9112 §9.6).
    private func startLingering(_ connection: HTTPConnection, now: UInt64) {
        Socket.shutdownWrite(connection.fd)
        var deadline = now + UInt64(Self.lingerSeconds * 1e9)
        if draining.load(ordering: .relaxed) { deadline = min(deadline, drainDeadline) }
        connection.lingerDeadline = deadline
        connection.readable = true
        discardInput(connection)
    }

    private func discardInput(_ connection: HTTPConnection) {
        while true {
            switch Socket.receive(connection.fd, into: scratch) {
            case .transferred: continue
            case .wouldBlock: connection.readable = false; return
            case .closed, .failed: close(connection); return
            }
        }
    }

    private func close(_ connection: HTTPConnection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        Socket.epollRemove(epollFD, fd: connection.fd)
        Socket.close(connection.fd)
        connections[connection.id] = nil
        if connection.isRejected { rejectedConnections -= 1 } else { activeConnections -= 1 }
    }

    // MARK: - Timeouts and shutdown

    private func sweep(now: UInt64) {
        if !listenerActive && !draining.load(ordering: .relaxed) && listenerFD >= 0 {
            listenerActive = (try? Socket.epollAdd(epollFD, fd: listenerFD, events: UInt32(CEL_EPOLLIN), token: Self.listenerToken)) != nil
        }
        let headerTimeout = UInt64(limits.headerTimeout * 1e9)
        let idleTimeout = UInt64(limits.idleTimeout * 1e9)
        for connection in Array(connections.values) {
            if let deadline = connection.lingerDeadline {
                if now >= deadline { close(connection) }
                continue
            }
            if connection.queuedResponseCount > 0 { continue }  // waiting for our own handler: no client timeout
            if connection.outboundOffset < connection.outbound.count {
                if now - connection.lastActivity > idleTimeout { close(connection) }  // the client stopped reading
                continue
            }
            switch connection.parser.progress {
            case .idle:
                let limit = connection.requestsServed == 0 ? headerTimeout : idleTimeout
                if now - connection.lastActivity > limit { close(connection) }
            case .head:
                if let started = connection.headStartedAt, now - started > headerTimeout {
                    refuse(connection, status: .requestTimeout, reason: "Request header section not received within \(limits.headerTimeout) seconds")
                    service(connection, now: now)
                }
            case .body:
                if now - connection.lastActivity > idleTimeout {
                    refuse(connection, status: .requestTimeout, reason: "Request body stalled for \(limits.idleTimeout) seconds")
                    service(connection, now: now)
                }
            }
        }
    }

    private func beginDrain(now: UInt64) {
        draining.store(true, ordering: .sequentiallyConsistent)
        drainDeadline = now + UInt64(drainTimeout * 1e9)
        if listenerActive { Socket.epollRemove(epollFD, fd: listenerFD) }
        if listenerFD >= 0 { Socket.close(listenerFD) }
        listenerFD = -1
        listenerActive = false
        logger.info("http.draining", metadata: ["http.open_connections": "\(connections.count)"])
    }
}
