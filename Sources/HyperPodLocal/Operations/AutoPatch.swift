import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON

extension ClusterService {
    /// R339: after RA21 published a release, every cluster of the partition looks for groups whose line has a higher
    /// PATCH release (`detectPatches`), in the publishing transaction. A cluster whose record cannot be read is skipped
    /// (issue #14: one bad record never stops the others).
    func scheduleAutoPatches(in partition: ClusterStore.Partition, at now: VirtualTime, db: StoreTransaction) throws {
        for row in try ClusterStore.rows(in: partition, db: db) {
            guard case .some(.some(var lifecycle)) = try? ClusterStore.load(row.arn, db: db) else { continue }
            try commit(&lifecycle, at: now, db: db, onlyIfChanged: true, records: .none) { l, c in ((), l.detectPatches(context: &c)) }
        }
        try persistGenerator(db)
    }

    /// RA22: a `node-busy` fault of a cluster was deleted; its automatic patches go on with the nodes idle now (R340).
    func wakeAutoPatches(_ fault: JSONObject) throws {
        let partition = ClusterStore.Partition(account: fault["account"]?.stringValue ?? defaultAccountID,
                                               region: fault["region"]?.stringValue ?? defaultRegion)
        guard let name = fault["cluster"]?.stringValue else { return }
        _ = try perform { db, now in
            guard let arn = try ClusterStore.resolve(name, in: partition, db: db),
                  case .some(.some(var lifecycle)) = try? ClusterStore.load(arn, db: db) else { return }
            try commit(&lifecycle, at: now, db: db, onlyIfChanged: true, records: .none) { l, c in ((), l.nodesBecameIdle(context: &c)) }
            try persistGenerator(db)
        }
    }
}
