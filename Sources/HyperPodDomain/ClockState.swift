/// How virtual time moves (R38): with the wall clock (`real`, times a scale), or only when told (`manual`).
public enum ClockMode: String, Sendable, CaseIterable {
    case real, manual
}

/// What is persisted to resume the virtual clock after a restart (R38): a pure value, kept by the store and run by
/// the application's `VirtualClock`.
public struct ClockState: Sendable, Equatable {
    public var mode: ClockMode
    /// Virtual seconds per wall second (real mode).
    public var timeScale: Double
    /// Virtual time at the anchor.
    public var anchorVirtual: VirtualTime
    /// Wall time at the anchor, epoch milliseconds (real mode).
    public var anchorWallMilliseconds: Int64

    public init(mode: ClockMode, timeScale: Double, anchorVirtual: VirtualTime, anchorWallMilliseconds: Int64) {
        self.mode = mode
        self.timeScale = timeScale
        self.anchorVirtual = anchorVirtual
        self.anchorWallMilliseconds = anchorWallMilliseconds
    }
}
