/// A volume or network interface attached to a cluster node (spec §19.4, R327–R333). The emulator has no EC2: every
/// well-formed id is an existing, available resource unless a fault (RA22) says otherwise. Times are virtual.
public struct NodeAttachmentRecord: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case volume
        case networkInterface = "network-interface"
    }

    /// `VolumeAttachmentStatus` as stored; what a caller sees at a given time is `status(at:)`.
    public enum Status: String, Sendable {
        case attaching, attached, detaching
    }

    public var kind: Kind
    /// `vol-…` or `eni-…`.
    public var resourceID: String
    public var clusterARN: String
    public var nodeLogicalID: String
    /// The instance it is attached to: an attachment ends with its instance (R331).
    public var instanceID: String
    /// Volumes: `/dev/xvdb` … `/dev/xvdz`.
    public var deviceName: String?
    /// Network interfaces: `eni-attach-` + 17 lowercase hex.
    public var attachmentID: String?
    public var status: Status
    public var attachTime: VirtualTime
    /// When `attaching` becomes `attached`, or `detaching` ends (T_config after the call, R329); nil once settled.
    public var settlesAt: VirtualTime?

    public init(kind: Kind, resourceID: String, clusterARN: String, nodeLogicalID: String, instanceID: String, deviceName: String? = nil,
                attachmentID: String? = nil, status: Status, attachTime: VirtualTime, settlesAt: VirtualTime?) {
        self.kind = kind
        self.resourceID = resourceID
        self.clusterARN = clusterARN
        self.nodeLogicalID = nodeLogicalID
        self.instanceID = instanceID
        self.deviceName = deviceName
        self.attachmentID = attachmentID
        self.status = status
        self.attachTime = attachTime
        self.settlesAt = settlesAt
    }

    /// The status at `now` (R329): `attaching` is `attached` from `settlesAt` on; a `detaching` attachment is gone (nil)
    /// from `settlesAt` on.
    public func status(at now: VirtualTime) -> Status? {
        guard let settlesAt, now >= settlesAt else { return status }
        return status == .detaching ? nil : .attached
    }
}

/// The rules of §19.4 that need no storage.
public enum NodeAttachments {
    /// The device names a volume may get, in allocation order (R329).
    public static let deviceNames: [String] = (UInt8(ascii: "b")...UInt8(ascii: "z")).map { "/dev/xvd" + String(UnicodeScalar($0)) }

    /// The lowest device name not in `used`; nil when all 25 are taken.
    public static func lowestFreeDeviceName(used: Set<String>) -> String? {
        deviceNames.first { !used.contains($0) }
    }

    /// An error EC2 would raise, in HyperPod's wrapped form (observed O200, O201):
    /// `HyperPod - Ec2ErrCode: <code> : Ec2ErrMsg: <message>`.
    public static func ec2Message(_ code: String, _ message: String) -> String {
        "HyperPod - Ec2ErrCode: \(code) : Ec2ErrMsg: \(message)"
    }

    /// RA21's defaults: attached volumes per node (at most 25: the device names) and network interfaces per node.
    public static let defaultVolumeAttachmentLimit = 25
    public static let defaultNetworkInterfaceLimit = 8
}
