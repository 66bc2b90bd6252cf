import AWSJSONProtocol
import HyperPodStore
import AdminAPI
import JSON
import HTTP1
import Logging
import SageMakerShapes

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: builds the routers and the HTTP server from an `EmulatorConfiguration`.
///
/// Start order: (store, scheduler — later issues), then server; `stop()` reverses it.
///
/// ```swift
/// let emulator = Emulator(configuration: config, logger: logger)
/// let address = try emulator.bind()   // e.g. 127.0.0.1:4580
/// emulator.run()                      // until stop()
/// ```
public final class Emulator: Sendable {
    /// The emulator's semantic version.
    public static let version = "0.1.0"

    public let configuration: EmulatorConfiguration
    public let service: ClusterService
    let server: HTTPServer
    let logger: Logger

    /// Opens the database (creating and migrating it), reads the identities file, and builds the routes.
    /// - Throws: database errors (unreadable file, not a database); `IdentitiesFileError` for an identities file that
    ///   cannot be read or used.
    public init(configuration: EmulatorConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let database = try EmulatorDatabase(path: configuration.inMemory ? nil : configuration.databasePath)
        let service = try ClusterService(
            database: database, clockMode: configuration.clockMode, timeScale: configuration.timeScale,
            timing: configuration.timing, seed: configuration.seed, defaultAccountID: configuration.accountID,
            defaultRegion: configuration.region, capacity: configuration.capacity, quotas: configuration.quotas, logger: logger
        )
        self.service = service
        let startedAt = HyperPodHTTPHandler.monotonicSeconds()
        let handlers = Self.handlers(service)
        var identities = AWSIdentities.empty
        if let path = configuration.identitiesPath { identities = try IdentitiesFile.load(path) }
        let authentication = AWSAuthentication(
            identities: identities,
            wallClock: { SystemWallClock().nowMilliseconds() / 1000 },
            resolveResource: { [service] operation, input, context in
                try service.authorizationResources(operation, input: input, context: context)
            }
        )
        // A cached answer skips the handler; under `enforce` every call must meet the caller's policies first.
        var cachedAnswer: (@Sendable (AWSCall) -> [UInt8]?)?
        if configuration.authMode != .enforce {
            cachedAnswer = { @Sendable call in call.operation == "DescribeCluster" ? service.cachedDescribe(call) : nil }
        }
        let handler = HyperPodHTTPHandler(
            aws: AWSJSONRouter(
                handlers: handlers, authMode: configuration.authMode, authentication: authentication,
                defaultAccountID: configuration.accountID, defaultRegion: configuration.region,
                strictMembers: configuration.strictMembers, checkResponses: configuration.checkResponses
            ),
            admin: AdminRouter(
                version: Self.version, uptimeSeconds: { HyperPodHTTPHandler.monotonicSeconds() - startedAt },
                backend: service, enabled: configuration.adminEnabled, token: configuration.adminToken,
                auth: IdentitiesFile(mode: configuration.authMode, path: configuration.identitiesPath, authentication: authentication),
                dashboardPage: configuration.dashboardFile.map(Self.dashboardPage(file:)),
                loopbackOnly: AdminRouter.isLoopback(configuration.host), allowedOrigins: configuration.corsOrigins
            ),
            stateQueue: service.queue,
            readQueue: service.readQueue,
            cachedAnswer: cachedAnswer,
            faults: service.faults, corsOrigins: configuration.corsOrigins, metrics: service.metrics,
            logger: logger
        )
        server = HTTPServer(
            host: configuration.host, port: configuration.port, limits: configuration.limits, handler: handler, logger: logger
        )
    }

    /// The dashboard page of `--ui-file`, read on each request (a file that cannot be read answers a page saying so,
    /// not the built-in copy, so a mistyped path is seen at once).
    static func dashboardPage(file: String) -> @Sendable () -> [UInt8] {
        {
            ClusterService.read(file)
                ?? Array("<!doctype html><title>hyperpod-local</title><p>--ui-file \(file) cannot be read (errno \(errno))</p>".utf8)
        }
    }

    /// The implemented operations (spec R3, so far: §6, §7, §8, §9 less events, §13).
    static func handlers(_ s: ClusterService) -> [String: AWSOperationHandler] {
        [
            "CreateCluster": AWSJSONRouter.operation { (i: CreateClusterRequest, c) in try s.createCluster(i, context: c) },
            "DescribeCluster": AWSJSONRouter.operation { (i: DescribeClusterRequest, c) in try s.describeCluster(i, context: c) },
            "ListClusters": AWSJSONRouter.operation { (i: ListClustersRequest, c) in try s.listClusters(i, context: c) },
            "UpdateCluster": AWSJSONRouter.operation { (i: UpdateClusterRequest, c) in try s.updateCluster(i, context: c) },
            "StartClusterHealthCheck": AWSJSONRouter.operation { (i: StartClusterHealthCheckRequest, c) in
                try s.startClusterHealthCheck(i, context: c)
            },
            "BatchDeleteClusterNodes": AWSJSONRouter.operation { (i: BatchDeleteClusterNodesRequest, c) in
                try s.batchDeleteClusterNodes(i, context: c)
            },
            "BatchRebootClusterNodes": AWSJSONRouter.operation { (i: BatchRebootClusterNodesRequest, c) in
                try s.batchRebootClusterNodes(i, context: c)
            },
            "BatchReplaceClusterNodes": AWSJSONRouter.operation { (i: BatchReplaceClusterNodesRequest, c) in
                try s.batchReplaceClusterNodes(i, context: c)
            },
            "BatchAddClusterNodes": AWSJSONRouter.operation { (i: BatchAddClusterNodesRequest, c) in
                try s.batchAddClusterNodes(i, context: c)
            },
            "MoveClusterNodes": AWSJSONRouter.operation { (i: MoveClusterNodesRequest, c) in try s.moveClusterNodes(i, context: c) },
            "UpdateClusterSoftware": AWSJSONRouter.operation { (i: UpdateClusterSoftwareRequest, c) in
                try s.updateClusterSoftware(i, context: c)
            },
            "DeleteCluster": AWSJSONRouter.operation { (i: DeleteClusterRequest, c) in try s.deleteCluster(i, context: c) },
            "ListClusterNodes": { input, context in
                // R93: a slot without an instance omits InstanceId, the one required member that may be absent.
                let output = try s.listClusterNodes(try ListClusterNodesRequest(json: .object(input)), context: context)
                var object = output.jsonValue.objectValue ?? JSONObject()
                if let summaries = object["ClusterNodeSummaries"]?.arrayValue {
                    object["ClusterNodeSummaries"] = .array(summaries.map { summary in
                        guard var node = summary.objectValue, node["InstanceId"] == .string("") else { return summary }
                        node["InstanceId"] = nil
                        return .object(node)
                    })
                }
                return object
            },
            "DescribeClusterNode": AWSJSONRouter.operation { (i: DescribeClusterNodeRequest, c) in try s.describeClusterNode(i, context: c) },
            "ListClusterEvents": AWSJSONRouter.operation { (i: ListClusterEventsRequest, c) in try s.listClusterEvents(i, context: c) },
            "DescribeClusterEvent": AWSJSONRouter.operation { (i: DescribeClusterEventRequest, c) in
                try s.describeClusterEvent(i, context: c)
            },
            "ListClusterOperations": AWSJSONRouter.operation { (i: ListClusterOperationsRequest, c) in
                try s.listClusterOperations(i, context: c)
            },
            "DescribeClusterOperation": AWSJSONRouter.operation { (i: DescribeClusterOperationRequest, c) in
                try s.describeClusterOperation(i, context: c)
            },
            "AttachClusterNodeVolume": AWSJSONRouter.operation { (i: AttachClusterNodeVolumeRequest, c) in
                try s.attachClusterNodeVolume(i, context: c)
            },
            "DetachClusterNodeVolume": AWSJSONRouter.operation { (i: DetachClusterNodeVolumeRequest, c) in
                try s.detachClusterNodeVolume(i, context: c)
            },
            "AttachClusterNodeNetworkInterface": AWSJSONRouter.operation { (i: AttachClusterNodeNetworkInterfaceRequest, c) in
                try s.attachClusterNodeNetworkInterface(i, context: c)
            },
            "CreateClusterExtension": AWSJSONRouter.operation { (i: CreateClusterExtensionRequest, c) in
                try s.createClusterExtension(i, context: c)
            },
            "UpdateClusterExtension": AWSJSONRouter.operation { (i: UpdateClusterExtensionRequest, c) in
                try s.updateClusterExtension(i, context: c)
            },
            "DeleteClusterExtension": AWSJSONRouter.operation { (i: DeleteClusterExtensionRequest, c) in
                try s.deleteClusterExtension(i, context: c)
            },
            "DescribeClusterExtension": AWSJSONRouter.operation { (i: DescribeClusterExtensionRequest, c) in
                try s.describeClusterExtension(i, context: c)
            },
            "ListClusterExtensions": AWSJSONRouter.operation { (i: ListClusterExtensionsRequest, c) in
                try s.listClusterExtensions(i, context: c)
            },
            "ListClusterExtensionVersions": AWSJSONRouter.operation { (i: ListClusterExtensionVersionsRequest, c) in
                try s.listClusterExtensionVersions(i, context: c)
            },
            "SearchTrainingPlanOfferings": AWSJSONRouter.operation { (i: SearchTrainingPlanOfferingsRequest, c) in
                try s.searchTrainingPlanOfferings(i, context: c)
            },
            "CreateTrainingPlan": AWSJSONRouter.operation { (i: CreateTrainingPlanRequest, c) in try s.createTrainingPlan(i, context: c) },
            "DescribeTrainingPlan": AWSJSONRouter.operation { (i: DescribeTrainingPlanRequest, c) in try s.describeTrainingPlan(i, context: c) },
            "ListTrainingPlans": AWSJSONRouter.operation { (i: ListTrainingPlansRequest, c) in try s.listTrainingPlans(i, context: c) },
            "ExtendTrainingPlan": AWSJSONRouter.operation { (i: ExtendTrainingPlanRequest, c) in try s.extendTrainingPlan(i, context: c) },
            "DescribeTrainingPlanExtensionHistory": AWSJSONRouter.operation { (i: DescribeTrainingPlanExtensionHistoryRequest, c) in
                try s.describeTrainingPlanExtensionHistory(i, context: c)
            },
            "DescribeReservedCapacity": AWSJSONRouter.operation { (i: DescribeReservedCapacityRequest, c) in
                try s.describeReservedCapacity(i, context: c)
            },
            "ListUltraServersByReservedCapacity": AWSJSONRouter.operation { (i: ListUltraServersByReservedCapacityRequest, c) in
                try s.listUltraServersByReservedCapacity(i, context: c)
            },
            "CreateClusterSchedulerConfig": AWSJSONRouter.operation { (i: CreateClusterSchedulerConfigRequest, c) in
                try s.createClusterSchedulerConfig(i, context: c)
            },
            "UpdateClusterSchedulerConfig": AWSJSONRouter.operation { (i: UpdateClusterSchedulerConfigRequest, c) in
                try s.updateClusterSchedulerConfig(i, context: c)
            },
            "DescribeClusterSchedulerConfig": AWSJSONRouter.operation { (i: DescribeClusterSchedulerConfigRequest, c) in
                try s.describeClusterSchedulerConfig(i, context: c)
            },
            "ListClusterSchedulerConfigs": AWSJSONRouter.operation { (i: ListClusterSchedulerConfigsRequest, c) in
                try s.listClusterSchedulerConfigs(i, context: c)
            },
            "DeleteClusterSchedulerConfig": { input, context in  // no output shape: `{}` (R276)
                try s.deleteClusterSchedulerConfig(try DeleteClusterSchedulerConfigRequest(json: .object(input)), context: context)
                return JSONObject()
            },
            "CreateComputeQuota": AWSJSONRouter.operation { (i: CreateComputeQuotaRequest, c) in try s.createComputeQuota(i, context: c) },
            "UpdateComputeQuota": AWSJSONRouter.operation { (i: UpdateComputeQuotaRequest, c) in try s.updateComputeQuota(i, context: c) },
            "DescribeComputeQuota": AWSJSONRouter.operation { (i: DescribeComputeQuotaRequest, c) in try s.describeComputeQuota(i, context: c) },
            "ListComputeQuotas": AWSJSONRouter.operation { (i: ListComputeQuotasRequest, c) in try s.listComputeQuotas(i, context: c) },
            "DeleteComputeQuota": { input, context in
                try s.deleteComputeQuota(try DeleteComputeQuotaRequest(json: .object(input)), context: context)
                return JSONObject()
            },
            "AddTags": AWSJSONRouter.operation { (i: AddTagsInput, c) in try s.addTags(i, context: c) },
            "ListTags": AWSJSONRouter.operation { (i: ListTagsInput, c) in try s.listTags(i, context: c) },
            "DeleteTags": AWSJSONRouter.operation { (i: DeleteTagsInput, c) in try s.deleteTags(i, context: c) },
        ]
    }

    /// Binds the listening socket.
    /// - Returns: the bound address (the real port when configured with 0).
    /// - Throws: `SocketError`.
    public func bind() throws -> SocketAddress { try server.bind() }

    /// Loads the seed files of `directory` (see `ClusterService.loadSeeds`). Call before `run()`.
    /// - Returns: the clusters created. - Throws: `SeedError`.
    public func loadSeeds(from directory: String) throws -> [String] {
        try service.queue.sync { try service.loadSeeds(from: directory) }
    }

    /// Queues the catch-up of overdue transitions (after a restart), then serves until `stop()`; returns once in-flight
    /// requests are answered (at most 4.5 s after `stop()`). Stop order is the reverse of start: server, then state.
    public func run() {
        service.start()
        server.run()
        service.stop()
        do {
            try service.database.checkpoint()
        } catch {
            logger.warning("database.checkpoint_failed", metadata: ["error": "\(error)"])
        }
    }

    /// Begins a graceful stop; safe from any thread (signal sources call it).
    public func stop() { server.shutdown() }
}
