import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The host's real time, as the virtual clock reads it. Injected so tests can move it.
public protocol WallClock: Sendable {
    /// Milliseconds since the epoch (`CLOCK_REALTIME`).
    func nowMilliseconds() -> Int64
}

/// The system clock.
public struct SystemWallClock: WallClock {
    public init() {}

    public func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// A wall clock that moves only when told: tests.
public final class ManualWallClock: WallClock {
    private let now: Mutex<Int64>

    public init(milliseconds: Int64 = 1_764_547_200_000) {
        now = Mutex(milliseconds)
    }

    public func nowMilliseconds() -> Int64 { now.withLock { $0 } }

    /// Moves the wall clock forward by `seconds`.
    public func advance(seconds: Double) {
        now.withLock { $0 += Int64((seconds * 1000).rounded()) }
    }
}
