/// Free instances by instance type and zone (spec R116), as one transition sees them: an instance type without a pool
/// is unlimited. A launch takes one unit; a termination gives it back.
///
/// The caller derives the free counts (pool size minus instances held in the partition) before a transition and
/// discards the value afterwards, so nothing here is persisted and a pool can never drift from the nodes that exist.
public struct CapacityPools: Sendable, Equatable {
    /// The zone key of a pool shared by every zone of the region.
    public static let allZones = "*"

    /// Free units: `[instance type: [zone or "*": free]]`. A type with zone keys only has no capacity in other zones.
    public var free: [String: [String: Int]]

    /// Pools with these free counts; `[:]` is unlimited everywhere.
    public init(free: [String: [String: Int]] = [:]) {
        self.free = free
    }

    /// Unlimited everywhere (the default, spec R116).
    public static let unlimited = CapacityPools()

    /// Whether `type` has a pool at all.
    public func isLimited(_ type: String) -> Bool { free[type] != nil }

    /// Takes one unit of `type` in `zone`.
    /// - Returns: false when the type's pool (shared or for that zone) has no free unit.
    public mutating func take(_ type: String, zone: String) -> Bool {
        guard var pools = free[type] else { return true }
        let key = pools[Self.allZones] != nil ? Self.allZones : zone
        guard let available = pools[key], available > 0 else { return false }
        pools[key] = available - 1
        free[type] = pools
        return true
    }

    /// Returns one unit of `type` in `zone` (a terminated instance).
    public mutating func giveBack(_ type: String, zone: String) {
        guard var pools = free[type] else { return }
        let key = pools[Self.allZones] != nil ? Self.allZones : zone
        guard let available = pools[key] else { return }
        pools[key] = available + 1
        free[type] = pools
    }
}
