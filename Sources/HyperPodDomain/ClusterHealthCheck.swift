import SageMakerShapes

extension ClusterLifecycle {
    /// A StartClusterHealthCheck run is in progress (spec R85): some node that had reached `Running` is back in
    /// `DeepHealthCheckInProgress` (nodes checked on start, N4, never reached `Running` before).
    public var healthChecksInProgress: Bool {
        nodes.contains { $0.status == .deepHealthCheckInProgress && $0.reachedRunning }
    }

    /// StartClusterHealthCheck (spec R97, R104, N7): the listed `Running` nodes (absent: all `Running` nodes of the
    /// group) go `DeepHealthCheckInProgress` and are `Running` again after T_dhc.
    /// - Throws: `UpdateRejection.validation` with the spec's messages (R97 answers ValidationException, not Conflict).
    public mutating func startHealthCheck(
        _ configurations: [InstanceGroupHealthCheckConfiguration], timing: TimingProfile
    ) throws(UpdateRejection) -> [LifecycleEffect] {
        try checkNodeOperationState(verb: "health-checked")  // R97
        var selected: [String] = []
        for configuration in configurations {
            let name = configuration.instanceGroupName
            guard cluster.groups.contains(where: { $0.name == name && $0.status != .deleting }) else {
                throw .validation("Instance group \(name) not found in cluster \(cluster.name).")
            }
            let running = nodes.filter { $0.groupName == name && $0.status == .running }
            if let ids = configuration.instanceIds {
                for id in ids {
                    guard let node = running.first(where: { $0.instanceID == id }) else {
                        throw .validation("Instance \(id) is not a Running node of instance group \(name).")
                    }
                    if !selected.contains(node.logicalID) { selected.append(node.logicalID) }
                }
            } else {
                for node in running where !selected.contains(node.logicalID) { selected.append(node.logicalID) }
            }
        }
        guard !selected.isEmpty else { return [] }
        let set = Set(selected)
        for i in nodes.indices where set.contains(nodes[i].logicalID) { nodes[i].status = .deepHealthCheckInProgress }
        return [.schedule(.healthCheckComplete(nodes: selected), afterSeconds: timing[.deepHealthCheck])]
    }
}
