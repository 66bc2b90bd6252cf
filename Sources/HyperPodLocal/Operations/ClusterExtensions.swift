import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

extension ClusterService {
    /// `CreateClusterExtension` (spec R311–R315): `Creating`, then `Active` after T_config (virtual).
    /// - Throws: `ResourceNotFound` (R32); `ValidationException` (R312 cluster kind, catalogue, R315 configuration, R313
    ///   token); `ConflictException` (cluster state); `ResourceInUse` (an extension of that name exists).
    func createClusterExtension(_ input: CreateClusterExtensionRequest, context: AWSRequestContext) throws -> CreateClusterExtensionResponse {
        try perform { db, now in
            let lifecycle = try extensionCluster(input.clusterArn, context: context, db: db)
            let c = lifecycle.cluster
            let parameters = "create|\(input.extensionName)|\(input.extensionVersion ?? "")|\(input.configurationValues ?? "")"
            if let token = input.clientToken, let arn = try replay(token, parameters: parameters, cluster: c.arn, at: now, db: db) {
                return CreateClusterExtensionResponse(extensionArn: arn)
            }
            let (version, settings) = try catalogueEntry(input.extensionName, version: input.extensionVersion,
                                                         in: try extensionCatalogue(in: context.partition, db: db))
            let configuration = try configure(input.configurationValues, base: nil, settings: settings)
            var existing: [ClusterExtensionRecord] = []
            for record in try ExtensionStore.extensions(of: c.arn, db: db) {
                if try view(record, of: lifecycle, at: now, db: db) != nil {
                    existing.append(record)
                } else {
                    try ExtensionStore.remove(record.extensionARN, db: db)  // a removal that has ended
                }
            }
            if existing.contains(where: { $0.name == input.extensionName }) {
                throw AWSError.resourceInUse("Extension \(input.extensionName) already exists on cluster \(c.arn).")
            }
            let id = generator.withLock { Identifiers.clusterID(using: &$0) }
            // R311: arn:<partition>:sagemaker:<region>:<account>:extension/sagemaker-<cluster-id>/<name>/<12 [a-z0-9]>.
            let arn = "arn:\(context.identity.partition):sagemaker:\(c.region):\(c.account):extension/sagemaker-\(c.clusterID)/\(input.extensionName)/\(id)"
            try ExtensionStore.save(ClusterExtensionRecord(
                extensionARN: arn, clusterARN: c.arn, name: input.extensionName, version: version, status: .creating,
                configuration: configuration, creationTime: now, lastModifiedTime: now, stepEndsAt: now.adding(seconds: timing[.config])), db: db)
            if let token = input.clientToken { try remember(token, parameters: parameters, arn: arn, cluster: c.arn, at: now, db: db) }
            return CreateClusterExtensionResponse(extensionArn: arn)
        }
    }

    /// `UpdateClusterExtension` (spec R316): configuration deep-merged (`null` resets a setting), no downgrade; a
    /// request that changes nothing retries the nodes with issues, or does nothing when `Active`.
    /// - Throws: `ResourceNotFound` (R32, R311); `ValidationException` (R315, R316, R313); `ConflictException`.
    func updateClusterExtension(_ input: UpdateClusterExtensionRequest, context: AWSRequestContext) throws -> UpdateClusterExtensionResponse {
        try perform { db, now in
            let lifecycle = try extensionCluster(input.clusterArn, context: context, db: db)
            let parameters = "update|\(input.extensionArn)|\(input.extensionVersion ?? "")|\(input.configurationValues ?? "")"
            if let token = input.clientToken, let arn = try replay(token, parameters: parameters, cluster: lifecycle.cluster.arn, at: now, db: db) {
                return UpdateClusterExtensionResponse(extensionArn: arn)
            }
            var (record, status) = try resolveExtension(input.extensionArn, of: lifecycle, at: now, db: db)
            switch status {
            case .deleting, .deleteFailed: throw AWSError.conflict("Extension \(record.name) is being deleted and cannot be updated.")
            case .creating, .updating: throw AWSError.conflict("Extension \(record.name) is in \(status.rawValue) status and cannot be updated.")
            default: break
            }
            let version = input.extensionVersion ?? record.version
            if ExtensionCatalogue.versionPrecedes(version, record.version) {
                throw AWSError.validation("ExtensionVersion \(version) is earlier than the current version \(record.version); "
                                          + "delete the extension and create it again to use an earlier version.")
            }
            // RA20: removing a version from the catalogue does not affect an installed extension: a request that keeps
            // it validates against the default catalogue's settings of that version.
            var catalogue = try extensionCatalogue(in: context.partition, db: db)
            if version == record.version, catalogue[record.name]?[version] == nil, let standard = ExtensionCatalogue.standard[record.name]?[version] {
                catalogue[record.name, default: [:]][version] = standard
            }
            let (_, settings) = try catalogueEntry(record.name, version: version, in: catalogue)
            let base = try? JSONParser.parse(Array(record.configuration.utf8)).objectValue
            let configuration = try configure(input.configurationValues, base: base, settings: settings)
            let changed = version != record.version || configuration != record.configuration
            if changed || status != .active {  // a retry of the nodes with issues, or a change (R316)
                record.version = version
                record.configuration = configuration
                record.status = .updating
                record.lastModifiedTime = now
                record.stepEndsAt = now.adding(seconds: timing[.config])
                try ExtensionStore.save(record, db: db)
            }
            if let token = input.clientToken {
                try remember(token, parameters: parameters, arn: record.extensionARN, cluster: lifecycle.cluster.arn, at: now, db: db)
            }
            return UpdateClusterExtensionResponse(extensionArn: record.extensionARN)
        }
    }

    /// `DeleteClusterExtension` (spec R317): `Deleting`, gone after T_config.
    /// - Throws: `ResourceNotFound` (R32, R311); `ConflictException` (already deleting; the cluster `Deleting`).
    func deleteClusterExtension(_ input: DeleteClusterExtensionRequest, context: AWSRequestContext) throws -> DeleteClusterExtensionResponse {
        try perform { db, now in
            let lifecycle = try resolveCluster(input.clusterArn, context: context, db: db)
            var (record, status) = try resolveExtension(input.extensionArn, of: lifecycle, at: now, db: db)
            if status == .deleting { throw AWSError.conflict("Extension \(record.name) is already being deleted.") }
            if lifecycle.cluster.status == .deleting {
                throw AWSError.conflict("Cluster \(lifecycle.cluster.name) is in Deleting state and its extensions cannot be changed.")
            }
            record.status = .deleting
            record.stepEndsAt = now.adding(seconds: timing[.config])
            try ExtensionStore.save(record, db: db)
            return DeleteClusterExtensionResponse(extensionArn: record.extensionARN)
        }
    }

    /// `DescribeClusterExtension` (spec R318): the details, `NodeSummary` always, `Health` when some node has an issue.
    /// - Throws: `ResourceNotFound` (R32, R311).
    func describeClusterExtension(_ input: DescribeClusterExtensionRequest, context: AWSRequestContext) throws -> DescribeClusterExtensionResponse {
        try read { db, now in
            let lifecycle = try resolveCluster(input.clusterArn, context: context, db: db)
            let (record, status) = try resolveExtension(input.extensionArn, of: lifecycle, at: now, db: db)
            let running = runningInstances(lifecycle)
            let perNode = issues(of: record, in: lifecycle)
            let settled = !record.stepRunning(at: now) && status != .deleting
            let issues = ClusterExtensionRecord.issues(Array(perNode.values))
            return DescribeClusterExtensionResponse(
                extensionDetails: ExtensionDetails(
                    clusterArn: lifecycle.cluster.arn, extensionArn: record.extensionARN, extensionName: record.name,
                    extensionVersion: record.version, status: ExtensionStatus(rawValue: status.rawValue) ?? .creating,
                    configurationValues: record.configuration, creationTime: record.creationTime.epochSeconds,
                    lastModifiedTime: record.lastModifiedTime.epochSeconds),
                nodeSummary: ExtensionNodeSummary(totalCount: running.count, activeCount: settled ? running.count - perNode.count : 0),
                health: issues.isEmpty ? nil : ExtensionHealth(issues: issues.map {
                    ExtensionHealthIssue(code: ExtensionHealthIssueCode(rawValue: $0.code) ?? .other, message: $0.message, nodeCount: $0.nodeCount)
                }))
        }
    }

    /// `ListClusterExtensions` (spec R319): by CreationTime, `Deleting` ones included; inclusive time filters; default
    /// 100 per page.
    /// - Throws: `ResourceNotFound` (R32); `ValidationException` `Invalid NextToken value.`
    func listClusterExtensions(_ input: ListClusterExtensionsRequest, context: AWSRequestContext) throws -> ListClusterExtensionsResponse {
        try read { db, now in
            let lifecycle = try resolveCluster(input.clusterArn, context: context, db: db)
            let after = input.creationTimeAfter.map { VirtualTime(epochSeconds: $0) }, before = input.creationTimeBefore.map { VirtualTime(epochSeconds: $0) }
            let listed = try ExtensionStore.extensions(of: lifecycle.cluster.arn, db: db).compactMap { record -> (ClusterExtensionRecord, ClusterExtensionRecord.Status)? in
                guard let status = try view(record, of: lifecycle, at: now, db: db) else { return nil }
                guard after.map({ record.creationTime >= $0 }) ?? true, before.map({ record.creationTime <= $0 }) ?? true else { return nil }
                return (record, status)
            }
            let binding = "\(lifecycle.cluster.arn)|\(input.creationTimeAfter ?? -1)|\(input.creationTimeBefore ?? -1)"
            let (page, next) = try PageToken.page(listed, key: { [sortKey($0.0.creationTime.milliseconds), $0.0.extensionARN] },
                                                  descending: false, token: input.nextToken, operation: "ListClusterExtensions",
                                                  binding: binding, limit: input.maxResults ?? 100)
            return ListClusterExtensionsResponse(extensions: page.map { record, status in
                ExtensionSummary(extensionArn: record.extensionARN, extensionName: record.name, extensionVersion: record.version,
                                 status: ExtensionStatus(rawValue: status.rawValue) ?? .creating, creationTime: record.creationTime.epochSeconds)
            }, nextToken: next)
        }
    }

    /// `ListClusterExtensionVersions` (spec R319): the catalogue's versions of a name, highest first; empty for a name
    /// not in the catalogue.
    /// - Throws: `ValidationException` `Invalid NextToken value.`
    func listClusterExtensionVersions(_ input: ListClusterExtensionVersionsRequest, context: AWSRequestContext) throws -> ListClusterExtensionVersionsResponse {
        let catalogue = try read { db, _ in try extensionCatalogue(in: context.partition, db: db) }
        let versions = ExtensionCatalogue.versions(of: input.extensionName, in: catalogue)
        let ranked = versions.enumerated().map { (rank: $0.offset, version: $0.element) }
        let (page, next) = try PageToken.page(ranked, key: { [sortKey(Int64($0.rank)), $0.version] }, descending: false,
                                              token: input.nextToken, operation: "ListClusterExtensionVersions",
                                              binding: input.extensionName, limit: input.maxResults ?? 100)
        return ListClusterExtensionVersionsResponse(extensionVersions: page.map { ExtensionVersionSummary(extensionVersion: $0.version) },
                                                    nextToken: next)
    }

    /// Stores the outcome of every extension step that has ended by now (R314), before the issues change: called
    /// before a fault is added or removed, so an outcome always reflects the issues of the instant its step ended.
    func settleEndedExtensionSteps(db: StoreTransaction, at now: VirtualTime) throws {
        for record in try ExtensionStore.endedSteps(by: now, db: db) {
            guard let lifecycle = try? ClusterStore.load(record.clusterARN, db: db) else { continue }
            let settled = record.settlingStep(at: now, runningNodes: runningInstances(lifecycle).count,
                                              nodesWithIssues: issues(of: record, in: lifecycle).count)
            if let settled { try ExtensionStore.save(settled, db: db) } else { try ExtensionStore.remove(record.extensionARN, db: db) }
        }
    }

    // MARK: Shared

    /// R312's cluster checks for create and update: a Continuous Slurm cluster, `InService` or `Updating`.
    func extensionCluster(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> ClusterLifecycle {
        let lifecycle = try resolveCluster(arn, context: context, db: db)
        let c = lifecycle.cluster
        guard c.request.orchestrator?.slurm != nil, c.isContinuous else {
            throw AWSError.validation("Cluster extensions are only supported for Slurm clusters with NodeProvisioningMode set to Continuous.")
        }
        guard c.status == .inService || c.status == .updating else {
            throw AWSError.conflict("Cluster \(c.name) is in \(c.status.rawValue) state and its extensions cannot be changed.")
        }
        return lifecycle
    }

    /// A partition's extension catalogue: the one RA20 stored, else the default (R310).
    /// - Throws: SQLite errors; `StoreError` for a stored catalogue that no longer decodes.
    func extensionCatalogue(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> [String: [String: ExtensionSetting]] {
        guard let stored = try PartitionSettings.value(PartitionSettings.extensionCatalogue, in: partition, db: db) else {
            return ExtensionCatalogue.standard
        }
        do {
            return try ExtensionCatalogue.decode(stored)
        } catch {
            throw StoreError.corrupt("extension catalogue of \(partition.account)/\(partition.region) (\(error.message))")
        }
    }

    /// The catalogue's version (absent: the highest) and its settings.
    /// - Throws: `ValidationException` for a name or version not offered (R312).
    func catalogueEntry(_ name: String, version: String?, in catalogue: [String: [String: ExtensionSetting]]) throws -> (String, ExtensionSetting) {
        guard let versions = catalogue[name], let highest = ExtensionCatalogue.versions(of: name, in: catalogue).first else {
            throw AWSError.validation("Extension \(name) is not available.")
        }
        let chosen = version ?? highest
        guard let settings = versions[chosen] else { throw AWSError.validation("Version \(chosen) of extension \(name) is not available.") }
        return (chosen, settings)
    }

    func configure(_ text: String?, base: JSONObject?, settings: ExtensionSetting) throws -> String {
        do {
            return try ExtensionCatalogue.merge(text, into: base ?? ExtensionCatalogue.defaults(settings), settings: settings)
        } catch {
            throw AWSError.validation(error.message)
        }
    }

    /// The extension an ARN names on this cluster, with its status now.
    /// - Throws: R311's `ResourceNotFound` for another cluster's, an unknown or a removed one.
    func resolveExtension(
        _ arn: String, of lifecycle: ClusterLifecycle, at now: VirtualTime, db: StoreTransaction
    ) throws -> (ClusterExtensionRecord, ClusterExtensionRecord.Status) {
        guard let record = try ExtensionStore.extensionRecord(arn, db: db), record.clusterARN == lifecycle.cluster.arn,
              let status = try view(record, of: lifecycle, at: now, db: db) else {
            throw AWSError.resourceNotFound("Could not find extension '\(arn)' in cluster '\(lifecycle.cluster.arn)'")
        }
        return (record, status)
    }

    /// The status of an extension now (R314); nil once its removal has ended. Reads only: reads run in read-only
    /// transactions, so a removed extension's row goes on a write path (create, and before a fault changes).
    func view(_ record: ClusterExtensionRecord, of lifecycle: ClusterLifecycle, at now: VirtualTime, db: StoreTransaction) throws -> ClusterExtensionRecord.Status? {
        record.status(at: now, runningNodes: runningInstances(lifecycle).count, nodesWithIssues: issues(of: record, in: lifecycle).count)
    }

    func runningInstances(_ lifecycle: ClusterLifecycle) -> [String] {
        lifecycle.nodes.filter { $0.status == .running }.compactMap(\.instanceID)
    }

    /// RA22: the issue of each `Running` node of the cluster with an `extension-failure` fault for this extension
    /// (absent `nodeIds`: every `Running` node); a node takes the newest fault's issue. A fault names its cluster in a
    /// partition (`account`, `region`; default the server's).
    func issues(of record: ClusterExtensionRecord, in lifecycle: ClusterLifecycle) -> [String: (code: String, message: String)] {
        let running = Set(runningInstances(lifecycle))
        var perNode: [String: (code: String, message: String)] = [:]
        for fault in faults.all where fault.kind == "extension-failure" && fault.body["extension"]?.stringValue == record.name
            && self.fault(fault, names: lifecycle.cluster) {
            let nodes = fault.body["nodeIds"]?.arrayValue?.compactMap(\.stringValue).filter(running.contains) ?? Array(running)
            for node in nodes {
                perNode[node] = (fault.body["code"]?.stringValue ?? "Other", fault.body["message"]?.stringValue ?? "")
            }
        }
        return perNode
    }

    /// R313: the ExtensionArn a token answered before with the same parameters (within 8 virtual hours), nil for a new
    /// token. - Throws: `ValidationException` for a token used with other parameters.
    func replay(_ token: String, parameters: String, cluster: String, at now: VirtualTime, db: StoreTransaction) throws -> String? {
        try replayedAnswer(try ClusterStore.clientToken("extension:\(token)", cluster: cluster, db: db), token: token,
                           parameters: parameters, at: now)
    }

    func remember(_ token: String, parameters: String, arn: String, cluster: String, at now: VirtualTime, db: StoreTransaction) throws {
        try ClusterStore.saveClientToken("extension:\(token)", cluster: cluster,
                                         record: .init(parameters: parameters, response: arn, createdAt: now), db: db)
    }
}
