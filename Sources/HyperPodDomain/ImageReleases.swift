import JSON
import SageMakerShapes

/// A HyperPod AMI release (spec R334): a `MAJOR.MINOR.PATCH` version of one architecture, published at a virtual time,
/// optionally a security release. Its AMI id is derived from the region, architecture and version.
public struct ImageRelease: Sendable, Equatable {
    /// `MAJOR.MINOR.PATCH`.
    public var version: String
    public var architecture: InstanceArchitecture
    /// A security release (R337: `SecurityUpdateRequired` for older releases of its line).
    public var security: Bool
    /// When it was published (virtual time); the catalogue's first releases at the epoch.
    public var publishedAt: VirtualTime
    public var imageID: String

    public init(version: String, architecture: InstanceArchitecture, security: Bool, publishedAt: VirtualTime, region: String) {
        self.version = version
        self.architecture = architecture
        self.security = security
        self.publishedAt = publishedAt
        self.imageID = ImageCatalogue.imageID(region: region, architecture: architecture, version: version)
    }

    /// `MAJOR.MINOR`.
    public var line: String { version.split(separator: ".").prefix(2).joined(separator: ".") }
}

/// A refused change of the release catalogue (RA21): answered 409 (not higher than every release) or 400.
public struct ImageCatalogueError: Error, Sendable, Equatable {
    public let message: String
    public let isConflict: Bool

    public init(message: String, isConflict: Bool) {
        self.message = message
        self.isConflict = isConflict
    }
}

/// A partition's HyperPod AMI releases (spec R334, R337, RA21, C-R37): every region starts with `1.0.0` of both
/// architectures; the admin API publishes newer ones and ends `MAJOR.MINOR` lines. "The latest platform AMI" of a group
/// is the highest release of its architecture. A value: the service loads it per partition and stores it back.
public struct ImageCatalogue: Sendable, Equatable {
    /// The partition's region: AMI ids are derived from it.
    public var region: String
    /// In publication order.
    public var releases: [ImageRelease]
    /// Lines (`MAJOR.MINOR`) marked end-of-life, per architecture.
    public var endOfLife: [InstanceArchitecture: Set<String>]

    /// The catalogue a partition starts with: `1.0.0` for `x86_64` and `arm64` (R334). The `x86_64` one is the AMI
    /// every earlier version of the emulator called the latest platform AMI (R37), so stored clusters keep theirs.
    public static func initial(region: String) -> ImageCatalogue {
        ImageCatalogue(region: region, releases: [InstanceArchitecture.x86_64, .arm64].map {
            ImageRelease(version: "1.0.0", architecture: $0, security: false, publishedAt: VirtualTime(milliseconds: 0), region: region)
        }, endOfLife: [:])
    }

    /// The AMI id of a release: `ami-` + 17 hex digits derived from region, architecture and version.
    public static func imageID(region: String, architecture: InstanceArchitecture, version: String) -> String {
        if architecture == .x86_64 && version == "1.0.0" { return PlatformImages.latest(region: region) }
        var hash = Placement.fnv1a("hyperpod-platform-ami:\(region):\(architecture.rawValue):\(version)")
        var digits = ""
        for _ in 0..<17 {
            digits.append(Array("0123456789abcdef")[Int(hash & 0xF)])
            hash = (hash >> 4) | (hash << 60)
        }
        return "ami-" + digits
    }

    /// Whether version `a` is lower than `b` (numeric per component).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        a.split(separator: ".").map { Int($0) ?? 0 }.lexicographicallyPrecedes(b.split(separator: ".").map { Int($0) ?? 0 })
    }

    /// Whether `text` is `MAJOR.MINOR.PATCH` (`components` numbers; the model's `ImageReleaseVersion` pattern is the
    /// same shape): each of 1 to 9 ASCII digits, without a leading zero (semantic versioning), so that one version has
    /// one spelling and compares as numbers.
    public static func isVersion(_ text: String, components: Int = 3) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == components && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 9 && part.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } && (part == "0" || part.first != "0")
        }
    }

    /// What `isVersion` asks for, as the admin API says it.
    public static let versionRule = "MAJOR.MINOR.PATCH: numbers of 1 to 9 digits without leading zeros"

    /// The highest release of an architecture.
    public func latest(_ architecture: InstanceArchitecture) -> ImageRelease {
        releases.filter { $0.architecture == architecture }.max { Self.precedes($0.version, $1.version) }
            ?? ImageRelease(version: "1.0.0", architecture: architecture, security: false, publishedAt: VirtualTime(milliseconds: 0), region: region)
    }

    /// The release `version` of `architecture`; nil when the catalogue has none (R335's "not available").
    public func release(_ version: String, _ architecture: InstanceArchitecture) -> ImageRelease? {
        releases.first { $0.version == version && $0.architecture == architecture }
    }

    /// The release whose AMI `imageID` is; nil for a custom AMI.
    public func release(ofImage imageID: String) -> ImageRelease? { releases.first { $0.imageID == imageID } }

    /// `ImageVersionStatus` of a node or group running `imageID` (R337): `EndOfLife` if its line is end-of-life; else
    /// `SecurityUpdateRequired` if a higher security release of its line exists; else `UpdateAvailable` if any higher
    /// release exists; else `UpToDate`. Custom AMIs are `UpToDate`.
    public func status(ofImage imageID: String) -> ClusterImageVersionStatus {
        guard let running = release(ofImage: imageID) else { return .upToDate }
        let newer = releases.filter { $0.architecture == running.architecture && Self.precedes(running.version, $0.version) }
        if endOfLife[running.architecture]?.contains(running.line) == true { return .endOfLife }
        if newer.contains(where: { $0.security && $0.line == running.line }) { return .securityUpdateRequired }
        return newer.isEmpty ? .upToDate : .updateAvailable
    }

    /// The worst of `statuses` in R337's order (`EndOfLife` worst); `UpToDate` for none.
    public static func worst(_ statuses: [ClusterImageVersionStatus]) -> ClusterImageVersionStatus {
        let order: [ClusterImageVersionStatus] = [.endOfLife, .securityUpdateRequired, .updateAvailable]
        return order.first(where: statuses.contains) ?? .upToDate
    }

    /// The AMI a group specification selects (R37, R335): a custom `ImageId` as given; else its `ImageReleaseVersion`
    /// (checked by `violation`); else the latest release of its architecture.
    public func image(for spec: ClusterInstanceGroupSpecification) -> String {
        if let custom = spec.imageId, custom != "default" { return custom }
        let architecture = spec.architecture
        if let version = spec.imageReleaseVersion, let chosen = release(version, architecture) { return chosen.imageID }
        return latest(architecture).imageID
    }

    /// R335: an `ImageReleaseVersion` must not come with a custom `ImageId` and must exist for the group's
    /// architecture. The message, nil when the specification passes.
    public func violation(_ spec: ClusterInstanceGroupSpecification) -> String? {
        guard let version = spec.imageReleaseVersion else { return nil }
        let name = spec.instanceGroupName
        if let custom = spec.imageId, custom != "default" {
            return "ImageReleaseVersion cannot be combined with a custom ImageId for instance group \(name)."
        }
        if release(version, spec.architecture) == nil { return "ImageReleaseVersion \(version) is not available for instance group \(name)." }
        return nil
    }

    /// RA21: publishes a release, higher than every release of its architecture (else a conflict).
    /// - Throws: `ImageCatalogueError`.
    public mutating func publish(version: String, architecture: InstanceArchitecture, security: Bool, at now: VirtualTime) throws(ImageCatalogueError) -> ImageRelease {
        guard Self.isVersion(version) else { throw ImageCatalogueError(message: "version must be \(Self.versionRule)", isConflict: false) }
        let highest = latest(architecture)
        guard Self.precedes(highest.version, version) else {
            throw ImageCatalogueError(message: "Release \(version) of \(architecture.rawValue) is not higher than \(highest.version).", isConflict: true)
        }
        let release = ImageRelease(version: version, architecture: architecture, security: security, publishedAt: now, region: region)
        releases.append(release)
        return release
    }

    /// RA21: marks a `MAJOR.MINOR` line end-of-life for `architecture` (nil: both, C-R37).
    public mutating func markEndOfLife(_ line: String, architecture: InstanceArchitecture?) {
        for a in architecture.map({ [$0] }) ?? [.x86_64, .arm64] { endOfLife[a, default: []].insert(line) }
    }

    // MARK: Stored form

    /// The catalogue as stored and as the admin API lists it: `{"releases": [{version, architecture, security,
    /// publishedAt (epoch ms), imageId}], "endOfLife": {"x86_64": ["1.0"], …}}`.
    public var jsonValue: JSONValue {
        var eol = JSONObject()
        for a in [InstanceArchitecture.x86_64, .arm64] where !(endOfLife[a] ?? []).isEmpty {
            eol[a.rawValue] = .array(endOfLife[a]!.sorted(by: Self.precedes).map(JSONValue.string))
        }
        return .object(["releases": .array(releases.map { r in
            .object(["version": .string(r.version), "architecture": .string(r.architecture.rawValue), "security": .bool(r.security),
                     "publishedAt": .integer(r.publishedAt.milliseconds), "imageId": .string(r.imageID)])
        }), "endOfLife": .object(eol)])
    }

    /// Reads the stored form back; nil when it is not of that form.
    public init?(json: JSONValue, region: String) {
        guard let object = json.objectValue, let list = object["releases"]?.arrayValue else { return nil }
        var releases: [ImageRelease] = []
        for item in list {
            guard let r = item.objectValue, let version = r["version"]?.stringValue,
                  let architecture = r["architecture"]?.stringValue.flatMap(InstanceArchitecture.init(rawValue:)),
                  case .integer(let ms)? = r["publishedAt"] else { return nil }
            releases.append(ImageRelease(version: version, architecture: architecture, security: r["security"] == .bool(true),
                                         publishedAt: VirtualTime(milliseconds: ms), region: region))
        }
        var eol: [InstanceArchitecture: Set<String>] = [:]
        for (name, lines) in object["endOfLife"]?.objectValue?.members ?? [] {
            guard let a = InstanceArchitecture(rawValue: name) else { return nil }
            eol[a] = Set(lines.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        self.init(region: region, releases: releases, endOfLife: eol)
    }

    /// A catalogue with these releases (publication order) and end-of-life lines; `initial(region:)` is where a
    /// partition starts.
    public init(region: String, releases: [ImageRelease], endOfLife: [InstanceArchitecture: Set<String>]) {
        self.region = region
        self.releases = releases
        self.endOfLife = endOfLife
    }
}

extension ClusterInstanceGroupSpecification {
    /// The architecture of the group's instances (R345): of its `InstanceType`, or of its flexible list's first type.
    public var architecture: InstanceArchitecture {
        if let type = instanceType { return InstanceArchitecture(type) }
        return instanceRequirements?.instanceTypes.first.map(InstanceArchitecture.init) ?? .x86_64
    }
}
