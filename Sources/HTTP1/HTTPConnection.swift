/// One client connection's state. Confined to the event-loop thread of its `HTTPServer`: never shared, never Sendable.
final class HTTPConnection {
    /// A response position, in request order. `bytes` is nil until the handler answers.
    struct Slot {
        var sequence: UInt64
        var bytes: [UInt8]?
        var close: Bool
        /// Request body bytes this position holds in memory until it is written (its request, then its answer).
        var weight: Int = 0
    }

    let id: UInt64
    let fd: Int32
    /// A connection over `--max-connections`: it only gets a 503 and is closed.
    let isRejected: Bool
    let createdAt: UInt64
    var parser: HTTPRequestParser

    private(set) var slots: [Slot] = []
    private var slotHead = 0
    private var nextSequence: UInt64 = 0

    var outbound: [UInt8] = []
    var outboundOffset = 0

    /// Reading may yield more bytes (edge-triggered: stays true until `recv` says EAGAIN or a read came back short).
    var readable = true
    /// Parsing stopped because `maxPipelinedRequests` responses were queued; complete requests may still be buffered.
    var dispatchBlocked = false
    /// The last `send` did not hit EAGAIN.
    var writable = true
    /// False after a request with `Connection: close`, a parse error, or the peer's end of input.
    var acceptingRequests = true
    /// A response that closes the connection has been queued for writing.
    var closeAfterFlush = false
    /// epoll reported the peer's half-close or a hang-up: read on to EOF even after a short read.
    var hangupSeen = false
    /// `recv` returned 0: the client sent all it will send.
    var peerClosed = false
    /// Set once the write side is shut down: input is read and dropped until EOF or this deadline (monotonic ns).
    var lingerDeadline: UInt64?
    /// Monotonic ns of the last byte received or sent.
    var lastActivity: UInt64
    /// Monotonic ns when the first byte of the request now being read arrived.
    var headStartedAt: UInt64?
    var requestsServed = 0
    var isClosed = false

    init(id: UInt64, fd: Int32, limits: HTTPLimits, now: UInt64, isRejected: Bool = false) {
        self.id = id
        self.fd = fd
        self.isRejected = isRejected
        self.createdAt = now
        self.lastActivity = now
        self.parser = HTTPRequestParser(limits: limits)
    }

    /// Responses reserved and not yet moved to `outbound` (answered or not).
    var queuedResponseCount: Int { slots.count - slotHead }
    /// Body bytes of requests dispatched and not yet moved to `outbound`.
    private(set) var queuedBodyBytes = 0

    /// Some request dispatched earlier on this connection is not answered yet.
    var hasUnansweredRequest: Bool { slots[slotHead...].contains { $0.bytes == nil } }

    /// Reserves the next response position for a request carrying `bodyBytes`.
    func reserveSlot(bodyBytes: Int = 0) -> UInt64 {
        defer { nextSequence += 1 }
        slots.append(Slot(sequence: nextSequence, bytes: nil, close: false, weight: bodyBytes))
        queuedBodyBytes += bodyBytes
        return nextSequence
    }

    /// Queues an already-encoded response (100 Continue, protocol errors) after those reserved so far.
    func enqueueReady(_ bytes: [UInt8], close: Bool) {
        let sequence = reserveSlot()
        fill(sequence: sequence, bytes: bytes, close: close)
    }

    /// Stores the answer for `sequence`; ignored when the position is gone (answered twice, or dropped after a close).
    func fill(sequence: UInt64, bytes: [UInt8], close: Bool) {
        guard slotHead < slots.count else { return }
        let index = slotHead + Int(truncatingIfNeeded: sequence &- slots[slotHead].sequence)
        guard index >= slotHead, index < slots.count, slots[index].bytes == nil else { return }
        slots[index].bytes = bytes
        slots[index].close = close
    }

    /// Moves answered responses at the head of the queue to `outbound`, in order, stopping at the first unanswered one.
    /// A response that closes the connection drops every position after it.
    func moveAnsweredToOutbound() {
        while slotHead < slots.count, let bytes = slots[slotHead].bytes {
            if outbound.isEmpty { outbound = bytes; outboundOffset = 0 } else { outbound.append(contentsOf: bytes) }
            let close = slots[slotHead].close
            queuedBodyBytes -= slots[slotHead].weight
            slotHead += 1
            if close {
                closeAfterFlush = true
                acceptingRequests = false
                queuedBodyBytes = 0
                slots.removeAll()
                slotHead = 0
                break
            }
        }
        if slotHead == slots.count {
            slots.removeAll(keepingCapacity: true)
            slotHead = 0
        } else if slotHead > 32 {
            slots.removeFirst(slotHead)
            slotHead = 0
        }
    }

    /// Nothing is buffered, queued or being written, and no request is partly read.
    var isIdle: Bool {
        queuedResponseCount == 0 && outboundOffset >= outbound.count && parser.progress == .idle
    }
}
