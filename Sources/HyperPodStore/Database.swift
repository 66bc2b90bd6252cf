import GRDB
import HyperPodDomain

#if canImport(Glibc)
import Glibc
#endif

/// The database file cannot be opened: `cannot open database file PATH: REASON`, with the reason in the user's terms
/// (a missing folder, no permission, not a database) and SQLite's own words after it.
public struct DatabaseOpenError: Error, CustomStringConvertible {
    public let description: String

    init(description: String) { self.description = description }

    init(path: String, error: DatabaseError) {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let reason: String
        switch error.resultCode {
        case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_IOERR:
            var status = stat()
            if stat(folder.isEmpty ? "/" : folder, &status) != 0 {
                reason = "the folder \(folder.isEmpty ? "/" : folder) does not exist"
            } else if access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0 {
                reason = "no permission to read and write the file"
            } else if access(path, F_OK) != 0 && access(folder.isEmpty ? "/" : folder, W_OK | X_OK) != 0 {
                reason = "no permission to create a file in \(folder.isEmpty ? "/" : folder)"
            } else {
                reason = "it cannot be opened for reading and writing"
            }
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            reason = "the file is not a hyperpod-local database (not SQLite, or damaged)"
        default:
            reason = "SQLite refused it"
        }
        description = "cannot open database file \(path): \(reason) (SQLite: \(error.message ?? "\(error.resultCode)"))"
    }
}

/// Ownership of a database file by one server: an exclusive `flock` on `FILE.lock`, which holds the owner's pid. The
/// kernel drops the lock when the process ends, however it ends (`kill -9` included), so a stale file never blocks a
/// restart; the file itself stays beside the database.
final class DatabaseFileLock: Sendable {
    let descriptor: Int32

    /// Takes the lock, or throws at once when another process holds it.
    /// - Throws: `DatabaseOpenError` `database FILE is in use by another hyperpod-local (pid N)`, or naming the lock
    ///   file when it cannot be created.
    init(databasePath path: String) throws {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DatabaseOpenError(description: "cannot open database file \(path): its lock file \(lockPath) cannot be created (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.readPID(fd)
            close(fd)
            throw DatabaseOpenError(description: "database \(path) is in use by another hyperpod-local (pid \(holder.map(String.init) ?? "unknown")); "
                + "stop it, or give this one another --db (or --in-memory)")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
        descriptor = fd
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).prefix { $0.isNumber })
    }

    deinit { close(descriptor) }
}

/// One transaction of the store, handed to the body of `EmulatorDatabase.read`/`write`: every store call made with it
/// reads and writes in that transaction. It does not outlive the body.
public struct StoreTransaction {
    let database: Database
}

/// The emulator's SQLite database (through GRDB, on the system `libsqlite3`): WAL mode on a file, or in memory.
///
/// Every API call and every fired timer is one write transaction (`write { }`); the schema is an append-only list of
/// named migrations (`grdb_migrations`).
public final class EmulatorDatabase: Sendable {
    /// `DatabasePool` (WAL: readers never wait for the writer) for a file, `DatabaseQueue` in memory.
    public let writer: any DatabaseWriter
    /// This server's ownership of the file (nil in memory).
    let fileLock: DatabaseFileLock?

    /// Opens (creating if needed) the database at `path`, or an in-memory one when `path` is nil, and migrates it.
    /// - Throws: `DatabaseOpenError` for a file that cannot be opened, one another server holds, or one a newer
    ///   hyperpod-local migrated; GRDB's `DatabaseError` for a failed migration.
    public init(path: String?) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a commit survives a process kill (kill -9); only an OS crash may lose the
            // last transactions.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 8 MiB of page cache for the writer (SQLite's default is 2 MiB): a 1,000-cluster database is ~250 MB, and
            // a launch otherwise re-reads its pages from the OS. Filled only as pages are read. Readers (up to 5 at
            // once) keep the default: they read a page of nodes each, and resident memory stays small.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA cache_size = -8192") }
        }
        if let path {
            do {
                writer = try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError {
                throw DatabaseOpenError(path: path, error: error)
            }
        } else {
            writer = try DatabaseQueue(configuration: configuration)
        }
        // Owned before anything is written (opening wrote nothing to an existing file); a missing folder or an
        // unreadable file was reported by the open, in those terms.
        fileLock = try path.map(DatabaseFileLock.init(databasePath:))
        if let path { try Self.refuseNewerSchema(writer, path: path) }
        do {
            try Self.migrator.migrate(writer)
        } catch let error as DatabaseError where path != nil && [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw DatabaseOpenError(path: path!, error: error)
        }
    }

    /// The schema, one named migration per change; never edit a shipped one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: clock, clusters, nodes, tags, scheduled transitions") { db in
            try db.execute(sql: """
                CREATE TABLE clock_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    mode TEXT NOT NULL,
                    time_scale REAL NOT NULL,
                    anchor_virtual_ms INTEGER NOT NULL,
                    anchor_wall_ms INTEGER NOT NULL
                );
                CREATE TABLE clusters (
                    arn TEXT PRIMARY KEY,
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    cluster_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    status TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE UNIQUE INDEX clusters_by_name ON clusters(account, region, name);
                CREATE INDEX clusters_by_creation ON clusters(account, region, created_at_ms, arn);
                CREATE TABLE cluster_nodes (
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    node_logical_id TEXT NOT NULL,
                    instance_id TEXT,
                    group_name TEXT NOT NULL,
                    status TEXT NOT NULL,
                    launch_at_ms INTEGER NOT NULL,
                    private_ip INTEGER,
                    document TEXT NOT NULL,
                    PRIMARY KEY (cluster_arn, node_logical_id)
                );
                CREATE UNIQUE INDEX cluster_nodes_by_instance ON cluster_nodes(instance_id) WHERE instance_id IS NOT NULL;
                CREATE INDEX cluster_nodes_by_launch ON cluster_nodes(cluster_arn, launch_at_ms, node_logical_id);
                CREATE TABLE tags (
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    PRIMARY KEY (cluster_arn, key)
                );
                CREATE TABLE used_identifiers (
                    kind TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (kind, value)
                );
                CREATE TABLE scheduled_transitions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    resource_arn TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    due_at_ms INTEGER NOT NULL
                );
                CREATE INDEX scheduled_transitions_by_due ON scheduled_transitions(due_at_ms, id);
                CREATE INDEX scheduled_transitions_by_resource ON scheduled_transitions(resource_arn);
                """)
        }
        migrator.registerMigration("v2: node instance types and zones, partition settings (capacity, quotas)") { db in
            try db.execute(sql: """
                ALTER TABLE cluster_nodes ADD COLUMN instance_type TEXT;
                ALTER TABLE cluster_nodes ADD COLUMN zone TEXT;
                CREATE TABLE partition_settings (
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    name TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (account, region, name)
                );
                """)
        }
        migrator.registerMigration("v3: cluster events") { db in
            try db.execute(sql: """
                CREATE TABLE cluster_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL UNIQUE,
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    event_time_ms INTEGER NOT NULL,
                    resource_type TEXT NOT NULL,
                    level TEXT NOT NULL,
                    description TEXT NOT NULL,
                    group_name TEXT,
                    instance_id TEXT,
                    metadata TEXT
                );
                CREATE INDEX cluster_events_by_cluster ON cluster_events(cluster_arn, event_time_ms, seq);
                """)
        }
        migrator.registerMigration("v4: BatchAddClusterNodes client tokens, faults") { db in
            try db.execute(sql: """
                CREATE TABLE client_tokens (
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    token TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    response TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (cluster_arn, token)
                );
                CREATE TABLE faults (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    body TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v5: indexes for scale (addresses per partition, node pages), quota and EKS columns on clusters") { db in
            // Node pages are read in (launch time | group name, instance id or else logical id) order by keyset (R95):
            // these indexes give that order and the keyset's row-value range directly (a plain column: SQLite 3.40 does
            // not use an expression for a row-value range), so a page costs its own rows at any offset.
            try db.execute(sql: """
                ALTER TABLE cluster_nodes ADD COLUMN node_key TEXT GENERATED ALWAYS AS (COALESCE(instance_id, node_logical_id)) VIRTUAL;
                DROP INDEX cluster_nodes_by_launch;
                CREATE INDEX cluster_nodes_by_launch ON cluster_nodes(cluster_arn, launch_at_ms, node_key);
                CREATE INDEX cluster_nodes_by_group ON cluster_nodes(cluster_arn, group_name, node_key);
                ALTER TABLE cluster_nodes ADD COLUMN account TEXT NOT NULL DEFAULT '';
                ALTER TABLE cluster_nodes ADD COLUMN region TEXT NOT NULL DEFAULT '';
                UPDATE cluster_nodes SET account = (SELECT account FROM clusters WHERE arn = cluster_arn),
                    region = (SELECT region FROM clusters WHERE arn = cluster_arn);
                CREATE INDEX cluster_nodes_by_address ON cluster_nodes(account, region, private_ip);
                ALTER TABLE clusters ADD COLUMN eks_cluster_arn TEXT;
                ALTER TABLE clusters ADD COLUMN target_counts TEXT NOT NULL DEFAULT '{}';
                CREATE INDEX clusters_by_eks ON clusters(account, region, eks_cluster_arn);
                """)
            // Frozen: the backfill reads the documents as v5 wrote them, in SQL (no call into today's codecs). A group's
            // charged type is its InstanceType, else the first of its InstanceRequirements' types.
            try db.execute(sql: """
                UPDATE clusters SET eks_cluster_arn = json_extract(document, '$.request.Orchestrator.Eks.ClusterArn'),
                    target_counts = COALESCE((
                        SELECT json_group_object(type, total) FROM (
                            SELECT COALESCE(json_extract(g.value, '$.spec.InstanceType'),
                                            json_extract(g.value, '$.spec.InstanceRequirements.InstanceTypes[0]'), 'unknown') AS type,
                                   SUM(json_extract(g.value, '$.targetCount')) AS total
                            FROM json_each(clusters.document, '$.groups') AS g
                            WHERE json_extract(g.value, '$.status') IS NOT 'Deleting'
                            GROUP BY type)), '{}');
                """)
        }
        migrator.registerMigration("v6: training plan ARNs on clusters (ListClusters reads no documents)") { db in
            try db.execute(sql: "ALTER TABLE clusters ADD COLUMN training_plan_arns TEXT")
            // Frozen, in SQL: the groups' TrainingPlanArns in group order as a JSON array, NULL when none has one.
            try db.execute(sql: """
                UPDATE clusters SET training_plan_arns = (
                    SELECT CASE WHEN COUNT(*) = 0 THEN NULL ELSE json_group_array(plan) END FROM (
                        SELECT json_extract(g.value, '$.spec.TrainingPlanArn') AS plan FROM json_each(clusters.document, '$.groups') AS g
                        WHERE plan IS NOT NULL ORDER BY g.key));
                """)
        }
        migrator.registerMigration("v7: transition attempts (failure isolation), id generator state per seed") { db in
            // Frozen: plain SQL only, no call into today's codecs.
            try db.execute(sql: """
                ALTER TABLE scheduled_transitions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE scheduled_transitions ADD COLUMN last_error TEXT;
                ALTER TABLE scheduled_transitions ADD COLUMN fire_at_ms INTEGER;
                UPDATE scheduled_transitions SET fire_at_ms = due_at_ms;
                CREATE INDEX scheduled_transitions_by_fire ON scheduled_transitions(fire_at_ms, id);
                CREATE TABLE id_generators (seed INTEGER PRIMARY KEY, state INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v8: instance ids unique by a full index (a partial one made SQLite recompile node queries)") { db in
            // SQLite matches every `column = ?` term of a query on cluster_nodes against a partial index's WHERE
            // (`instance_id IS NOT NULL`); doing so marks the bound parameters as plan-relevant, and every new binding then
            // recompiles the statement: a third of a write's time. A UNIQUE index already lets NULLs repeat.
            try db.execute(sql: """
                DROP INDEX cluster_nodes_by_instance;
                CREATE UNIQUE INDEX cluster_nodes_by_instance ON cluster_nodes(instance_id);
                """)
        }
        migrator.registerMigration("v9: cluster operations (botocore 1.44, spec R303-R309)") { db in
            // A new table only: nothing before v9 recorded operations (R303 counts requests from now on).
            try db.execute(sql: """
                CREATE TABLE cluster_operations (
                    operation_id TEXT PRIMARY KEY,
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    type TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE INDEX cluster_operations_by_cluster ON cluster_operations(cluster_arn, created_at_ms, operation_id);
                CREATE INDEX cluster_operations_in_progress ON cluster_operations(cluster_arn, status);
                ALTER TABLE cluster_events ADD COLUMN operation_id TEXT;
                """)
        }
        migrator.registerMigration("v10: volume and network-interface attachments (botocore 1.44, spec R327-R333)") { db in
            // One attachment per resource in a partition: a volume or interface is attached to one node at a time.
            try db.execute(sql: """
                CREATE TABLE node_attachments (
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    node_logical_id TEXT NOT NULL,
                    instance_id TEXT NOT NULL,
                    device_name TEXT,
                    attachment_id TEXT,
                    status TEXT NOT NULL,
                    attach_time_ms INTEGER NOT NULL,
                    settles_at_ms INTEGER,
                    PRIMARY KEY (account, region, kind, resource_id)
                );
                CREATE INDEX node_attachments_by_instance ON node_attachments(instance_id, kind);
                CREATE INDEX node_attachments_settling ON node_attachments(settles_at_ms) WHERE settles_at_ms IS NOT NULL;
                """)
        }
        migrator.registerMigration("v11: cluster extensions (botocore 1.44, spec R310-R319)") { db in
            try db.execute(sql: """
                CREATE TABLE cluster_extensions (
                    extension_arn TEXT PRIMARY KEY,
                    cluster_arn TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    status TEXT NOT NULL,
                    configuration TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    modified_at_ms INTEGER NOT NULL,
                    step_ends_at_ms INTEGER
                );
                CREATE INDEX cluster_extensions_by_cluster ON cluster_extensions(cluster_arn, created_at_ms, extension_arn);
                CREATE INDEX cluster_extensions_step ON cluster_extensions(step_ends_at_ms) WHERE step_ends_at_ms IS NOT NULL;
                """)
        }
        migrator.registerMigration("v12: training plans, recorded offerings, units held by nodes (spec R200-R231)") { db in
            // New tables and a new nullable column only: nodes stored before v12 hold no reserved capacity.
            try db.execute(sql: """
                CREATE TABLE training_plans (
                    arn_lc TEXT PRIMARY KEY,
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE INDEX training_plans_by_partition ON training_plans(account, region, created_at_ms);
                CREATE TABLE training_plan_offerings (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    taken INTEGER NOT NULL DEFAULT 0,
                    document TEXT NOT NULL
                );
                CREATE INDEX training_plan_offerings_by_partition ON training_plan_offerings(account, region, kind, seq);
                ALTER TABLE cluster_nodes ADD COLUMN reserved_capacity_arn TEXT;
                CREATE INDEX cluster_nodes_by_reserved_capacity ON cluster_nodes(reserved_capacity_arn) WHERE reserved_capacity_arn IS NOT NULL;
                """)
        }
        migrator.registerMigration("v13: task governance policies (spec R250-R287)") { db in
            // A new table only.
            try db.execute(sql: """
                CREATE TABLE governance_policies (
                    arn TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    id TEXT NOT NULL,
                    account TEXT NOT NULL,
                    region TEXT NOT NULL,
                    cluster_arn TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE UNIQUE INDEX governance_policies_by_id ON governance_policies(account, region, kind, id);
                CREATE INDEX governance_policies_by_cluster ON governance_policies(cluster_arn, created_at_ms);
                """)
        }
        return migrator
    }

    /// The schema version a migration name stands for (`"v7: …"` → 7), nil for a name not of that form.
    static func schemaVersion(of migration: String) -> Int? {
        guard migration.first == "v" else { return nil }
        return Int(migration.dropFirst().prefix { $0.isNumber })
    }

    /// The newest schema version this build knows.
    static var knownSchemaVersion: Int { migrator.migrations.compactMap(schemaVersion(of:)).max() ?? 0 }

    /// Refuses a database that a newer hyperpod-local migrated: one with an applied migration this build does not know.
    /// - Throws: `DatabaseOpenError` naming the file and both schema versions.
    static func refuseNewerSchema(_ writer: any DatabaseWriter, path: String) throws {
        let applied = try writer.read { db -> [String] in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        let known = Set(migrator.migrations)
        let unknown = applied.filter { !known.contains($0) }
        guard !unknown.isEmpty else { return }
        let newest = applied.compactMap(schemaVersion(of:)).max()
        throw DatabaseOpenError(description: """
            database \(path) was written by a newer hyperpod-local (schema version \(newest.map(String.init) ?? "unknown: \(unknown.sorted().joined(separator: ", "))"); \
            this one knows schema versions up to \(knownSchemaVersion)); start a newer hyperpod-local on it, or use another --db
            """)
    }

    // MARK: Transactions

    /// Runs `body` in one write transaction: committed when it returns, rolled back when it throws.
    /// - Throws: what `body` throws, or a database error.
    public func write<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        try writer.write { db in try body(StoreTransaction(database: db)) }
    }

    /// Runs `body` on a snapshot of the committed state (any thread; several at once on a file).
    /// - Throws: what `body` throws, or a database error.
    public func read<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        if let queue = writer as? DatabaseQueue {
            // In memory: one serialized connection, so a read cannot interleave with a write and needs no read-only
            // transaction. GRDB's isolated read would toggle `PRAGMA query_only`, and a flag pragma expires every
            // prepared statement: each cached statement would then be compiled again at its next use.
            return try queue.unsafeRead { db in try body(StoreTransaction(database: db)) }
        }
        return try writer.read { db in try body(StoreTransaction(database: db)) }
    }

    /// Writes the write-ahead log back into the database file and empties it (a clean stop): the file alone then holds
    /// the whole state. Nothing to do in memory.
    /// - Throws: a database error (the log then stays; nothing is lost).
    public func checkpoint() throws {
        guard let pool = writer as? DatabasePool else { return }
        _ = try pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound database.
    public func integrityCheck() throws -> [String] {
        try writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
