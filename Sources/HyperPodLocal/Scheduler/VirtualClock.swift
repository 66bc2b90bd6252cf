import HyperPodDomain
import Synchronization

/// The one clock behind every timestamp and timer (spec R38).
///
/// - `real`: virtual time = anchor + wall time since the anchor × `timeScale`. The anchor is persisted, so time spent
///   stopped counts as elapsed.
/// - `manual`: virtual time moves only through `advance(seconds:)` / `set(to:)` (the admin API, RA3); a restart resumes
///   at the persisted virtual time.
///
/// It never goes backwards. Thread-safe.
public final class VirtualClock: Sendable {
    public typealias Mode = ClockMode
    /// What is persisted to resume the clock after a restart.
    public typealias State = ClockState

    /// A request the clock refuses (answered 409 by the admin API, spec §14a).
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    private let wall: any WallClock
    private let state: Mutex<(state: State, lastNow: VirtualTime)>

    /// A clock resuming `state` (from the store), or starting now.
    public init(state: State, wall: any WallClock) {
        self.wall = wall
        self.state = Mutex((state, state.anchorVirtual))
    }

    /// A new clock whose virtual time starts at the wall time.
    public static func starting(mode: Mode, timeScale: Double = 1, wall: any WallClock) -> VirtualClock {
        let now = wall.nowMilliseconds()
        return VirtualClock(
            state: State(mode: mode, timeScale: timeScale, anchorVirtual: VirtualTime(milliseconds: now), anchorWallMilliseconds: now),
            wall: wall
        )
    }

    /// The current virtual time.
    public func now() -> VirtualTime {
        let wallNow = wall.nowMilliseconds()
        return state.withLock { s in
            let computed = Self.virtualTime(of: s.state, wallMilliseconds: wallNow)
            if computed > s.lastNow { s.lastNow = computed }
            return s.lastNow
        }
    }

    /// The state to persist: re-anchored at the current instant, so a restart resumes exactly here.
    public func snapshot() -> State {
        let wallNow = wall.nowMilliseconds()
        return state.withLock { s in
            let current = max(Self.virtualTime(of: s.state, wallMilliseconds: wallNow), s.lastNow)
            return State(mode: s.state.mode, timeScale: s.state.timeScale, anchorVirtual: current, anchorWallMilliseconds: wallNow)
        }
    }

    public var mode: Mode { state.withLock { $0.state.mode } }
    public var timeScale: Double { state.withLock { $0.state.timeScale } }

    /// Moves virtual time forward by `seconds` (≥ 0), in either mode.
    /// - Throws: `Refusal` for a negative or non-finite amount.
    @discardableResult
    public func advance(seconds: Double) throws(Refusal) -> VirtualTime {
        guard seconds.isFinite, seconds >= 0 else { throw Refusal(description: "advanceSeconds must be a number ≥ 0") }
        guard now().adding(seconds: seconds) < VirtualTime.max else {
            throw Refusal(description: "advanceSeconds would move the clock past \(VirtualTime.max)")
        }
        return reanchor { $0.adding(seconds: seconds) }
    }

    /// Sets virtual time to `time`, which must not be earlier than now.
    /// - Throws: `Refusal` when `time` is in the virtual past (spec RA3: the clock never goes backwards).
    @discardableResult
    public func set(to time: VirtualTime) throws(Refusal) -> VirtualTime {
        let current = now()
        guard time >= current else {
            throw Refusal(description: "The clock cannot go backwards: \(time.iso8601) (\(time)) is earlier than now, \(current.iso8601) (\(current))")
        }
        return reanchor { _ in time }
    }

    /// Changes the time scale (real mode only).
    /// - Throws: `Refusal` in manual mode or for a scale that is not > 0.
    /// The largest time scale accepted: a virtual day per wall-clock tenth of a millisecond.
    public static let maxTimeScale = 1_000_000_000.0

    public func setTimeScale(_ scale: Double) throws(Refusal) {
        guard scale.isFinite, scale > 0, scale <= Self.maxTimeScale else {
            throw Refusal(description: "timeScale must be a number > 0 and at most \(Int(Self.maxTimeScale))")
        }
        guard mode == .real else { throw Refusal(description: "timeScale applies to the real clock; this server runs a manual clock") }
        let wallNow = wall.nowMilliseconds()
        state.withLock { s in
            let current = max(Self.virtualTime(of: s.state, wallMilliseconds: wallNow), s.lastNow)
            s.state = State(mode: .real, timeScale: scale, anchorVirtual: current, anchorWallMilliseconds: wallNow)
            s.lastNow = current
        }
    }

    private func reanchor(_ target: (VirtualTime) -> VirtualTime) -> VirtualTime {
        let wallNow = wall.nowMilliseconds()
        return state.withLock { s in
            let current = max(Self.virtualTime(of: s.state, wallMilliseconds: wallNow), s.lastNow)
            let next = max(target(current), current)
            s.state.anchorVirtual = next
            s.state.anchorWallMilliseconds = wallNow
            s.lastNow = next
            return next
        }
    }

    static func virtualTime(of state: State, wallMilliseconds: Int64) -> VirtualTime {
        switch state.mode {
        case .manual:
            return state.anchorVirtual
        case .real:
            let elapsed = Double(max(0, wallMilliseconds - state.anchorWallMilliseconds)) * state.timeScale
            return VirtualTime.clamped(Double(state.anchorVirtual.milliseconds) + elapsed)  // saturates, never traps
        }
    }
}
