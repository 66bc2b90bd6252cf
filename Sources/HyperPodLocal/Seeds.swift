import AWSJSONProtocol
import Dispatch
import HyperPodStore
import HyperPodDomain
import JSON
import SageMakerShapes

#if canImport(Glibc)
import Glibc
#endif

/// A seed file that cannot be loaded: the server does not start.
public struct SeedError: Error, CustomStringConvertible {
    public let description: String
}

extension ClusterService {
    /// Loads every `*.json` file of `directory` in name order (issue #7, `serve --seed DIR`): each is a `CreateCluster`
    /// request, optionally with `"account"`, `"region"` (the partition; defaults `--account-id`, `--region`) and
    /// `"state": "InService"` (the cluster starts settled). Idempotent: a cluster whose name exists in its partition is
    /// left alone. Must be called on `queue`.
    /// - Returns: the names of the clusters created.
    /// - Throws: `SeedError` naming the file for an unreadable directory, bad JSON, a request the model or the business
    ///   rules refuse, or an unknown `state`.
    public func loadSeeds(from directory: String) throws -> [String] {
        dispatchPrecondition(condition: .onQueue(queue))
        var created: [String] = []
        for file in try Self.jsonFiles(in: directory) {
            let path = directory.hasSuffix("/") ? directory + file : directory + "/" + file
            guard let bytes = Self.read(path), var object = (try? JSONParser.parse(bytes))?.objectValue else {
                throw SeedError(description: "seed \(path): not a JSON object")
            }
            let account = object["account"]?.stringValue ?? defaultAccountID
            let region = object["region"]?.stringValue ?? defaultRegion
            let state = object["state"]?.stringValue
            for key in ["account", "region", "state"] { object[key] = nil }
            guard state == nil || state == "InService" || state == "Creating" else {
                throw SeedError(description: "seed \(path): state must be InService or Creating, got \(state!)")
            }
            if let error = ShapeValidator(model: .sageMakerClusters).validate(object, shape: "CreateClusterRequest", strictMembers: false).error {
                throw SeedError(description: "seed \(path): \(error.code): \(error.message)")
            }
            let request: CreateClusterRequest
            do { request = try CreateClusterRequest(json: .object(object)) } catch {
                throw SeedError(description: "seed \(path): \(error)")
            }
            let context = AWSRequestContext(requestID: "seed", operation: "CreateCluster",
                                            identity: AWSIdentity(accountID: account, region: region))
            let exists = try database.read { db in
                try ClusterStore.resolve(request.clusterName, in: context.partition, db: db) != nil
            }
            if exists { continue }
            let arn: String
            do { arn = try createCluster(request, context: context).clusterArn } catch let error as AWSError {
                throw SeedError(description: "seed \(path): \(error.code): \(error.message)")
            }
            if state != "Creating" { try fastForward(arn) }
            created.append(request.clusterName)
        }
        return created
    }

    /// Fires one cluster's pending transitions now, whatever their due time, until none is left but timeouts and
    /// schedules (a seed that starts settled). Must be called on `queue`.
    func fastForward(_ arn: String) throws {
        for _ in 0..<100_000 {
            let next = try database.read { db in
                try TransitionStore.pending(db: db).first {
                    $0.resourceARN == arn && !$0.isSetAside && !Self.notTransitional.contains(where: $0.event.hasPrefix)
                }
            }
            guard let next else { break }
            try database.write { db in
                try TransitionStore.reschedule(id: next.id, to: clock.now(), db: db)
            }
            refreshNextDue()
            processDue()
        }
    }

    static func jsonFiles(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw SeedError(description: "seed directory \(directory) cannot be read") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(name) }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes += buffer[0..<n] }
            if n < buffer.count { break }
        }
        return bytes
    }
}
