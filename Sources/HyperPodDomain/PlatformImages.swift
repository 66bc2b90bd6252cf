/// The platform AMI catalogue (spec R37): each region has a "latest platform AMI", `ami-` + 17 hex digits derived from
/// the region. `ImageId` absent or `default` means that one.
public enum PlatformImages {
    /// The latest platform AMI of `region`.
    public static func latest(region: String) -> String {
        var hash = Placement.fnv1a("hyperpod-platform-ami:" + region)
        var digits = ""
        for _ in 0..<17 {
            digits.append(Array("0123456789abcdef")[Int(hash & 0xF)])
            hash = (hash >> 4) | (hash << 60)
        }
        return "ami-" + digits
    }

    /// The image a group runs: its `ImageId`, or the latest platform AMI when absent or `default`.
    public static func image(for imageID: String?, region: String) -> String {
        guard let imageID, imageID != "default" else { return latest(region: region) }
        return imageID
    }

    /// Whether `image` is a platform AMI of `region` (the latest one; the catalogue has no older ones yet).
    public static func isPlatform(_ image: String, region: String) -> Bool { image == latest(region: region) }
}
