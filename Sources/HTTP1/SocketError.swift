#if canImport(Glibc)
import Glibc
#endif

/// A failed socket or event-loop system call, with the `errno` captured where it failed.
///
/// Thrown by the functions of `Socket+Glibc.swift`; `call` names the system call (`"bind"`, `"listen"`, …).
public struct SocketError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The system call that failed, e.g. `"bind"`.
    public let call: String
    /// The `errno` read immediately after the failing call.
    public let errno: Int32

    /// Captures the current `errno` for `call`. Call it first thing after the failure: logging or allocation may
    /// overwrite `errno`.
    static func makeFailed(_ call: String) -> SocketError {
        SocketError(call: call, errno: Glibc.errno)
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
