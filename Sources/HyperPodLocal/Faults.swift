import AWSJSONProtocol
import HTTP1
import JSON
import Synchronization

/// Active faults of the admin API (spec RA7) that act on requests or on later transitions: `api-error`, `latency` and
/// `alarm` (node failures act once, when added). Readable from any thread; persisted by the service.
public final class FaultRegistry: Sendable {
    /// One active fault: its id and the body it was added with.
    public struct Fault: Sendable, Equatable {
        public var id: String
        public var body: JSONObject

        public var kind: String { body["kind"]?.stringValue ?? "" }
    }

    let faults = Mutex<[Fault]>([])
    /// How many faults are active, readable without the lock (the request path checks it on every call).
    let active = Atomic<Int>(0)

    public init() {}

    public var all: [Fault] { faults.withLock { $0 } }

    func replace(_ list: [Fault]) {
        faults.withLock { $0 = list }
        active.store(list.count, ordering: .releasing)
    }

    /// What the faults do to a call of `operation` (spec RA7): an error to answer instead (HTTP 400
    /// `ThrottlingException`, 500 `InternalFailure`, 503 `ServiceUnavailable`), drawn with each fault's probability,
    /// and a delay in milliseconds (wall clock) before the answer.
    public func effect(on operation: String) -> (error: AWSError?, delayMilliseconds: Int) {
        guard active.load(ordering: .acquiring) > 0 else { return (nil, 0) }
        let list = faults.withLock { $0 }
        guard !list.isEmpty else { return (nil, 0) }
        var delay = 0
        var error: AWSError?
        for fault in list {
            let target = fault.body["operation"]?.stringValue
            guard target == operation || target == "*" else { continue }
            switch fault.kind {
            case "latency":
                delay += fault.body["milliseconds"]?.intValue ?? 0
            case "api-error" where error == nil && fault.body["code"]?.stringValue != "InternalServerError":
                let probability = fault.body["probability"]?.numberValue ?? 1
                guard Double.random(in: 0..<1) < probability, let code = fault.body["code"]?.stringValue else { continue }
                let status: HTTPStatus = switch code {
                case "InternalFailure": .internalServerError
                case "ServiceUnavailable": .serviceUnavailable
                default: .badRequest
                }
                error = AWSError(code: code, message: "Injected fault: \(code)", status: status)
            default:
                break
            }
        }
        return (error, delay)
    }

    /// Whether a node of a BatchReboot/BatchReplaceClusterNodes call fails with the per-node `InternalServerError`
    /// (spec R103, R122), drawn with the fault's probability.
    public func nodeInternalError(operation: String) -> Bool {
        let list = faults.withLock { $0 }
        return list.contains { fault in
            fault.kind == "api-error" && fault.body["code"]?.stringValue == "InternalServerError"
                && (fault.body["operation"]?.stringValue == operation || fault.body["operation"]?.stringValue == "*")
                && Double.random(in: 0..<1) < (fault.body["probability"]?.numberValue ?? 1)
        }
    }

    /// The alarms whose latest setting is `ALARM` (every other alarm is `OK`, spec R108).
    public func alarmsInAlarm() -> Set<String> {
        var state: [String: String] = [:]
        for fault in faults.withLock({ $0 }) where fault.kind == "alarm" {
            if let name = fault.body["alarmName"]?.stringValue { state[name] = fault.body["state"]?.stringValue }
        }
        return Set(state.filter { $0.value == "ALARM" }.keys)
    }
}
