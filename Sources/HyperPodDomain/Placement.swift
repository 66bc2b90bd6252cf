/// Where nodes live: zones, subnets and private addresses (spec R35, R36). Deterministic: the same subnet always maps
/// to the same zone and address block, in every run.
public enum Placement {
    /// The four zones of a region: `<region>a` … `<region>d` (spec R36).
    public static func zones(of region: String) -> [String] { ["a", "b", "c", "d"].map { region + $0 } }

    /// The zone id of a zone: region code + `-az<n>` (a → 1, …), e.g. `us-east-1b` → `use1-az2` (spec R36).
    public static func zoneID(of zone: String, region: String) -> String {
        let letter = zone.dropFirst(region.count).first ?? "a"
        let index = Int((letter.asciiValue ?? 97) - 96)
        return "\(regionCode(region))-az\(index)"
    }

    /// `us-east-2` → `use2`, `ap-northeast-1` → `apne1`, `eu-central-1` → `euc1`, `us-gov-west-1` → `usgw1`:
    /// the first part, the initials of the words between (compound directions split), and the number.
    public static func regionCode(_ region: String) -> String {
        let parts = region.split(separator: "-").map(String.init)
        guard parts.count >= 3 else { return region.replacingDashes() }
        var code = parts[0]
        for word in parts[1..<(parts.count - 1)] {
            var rest = Substring(word)
            var initials = ""
            for direction in ["north", "south", "east", "west", "central"] where rest.hasPrefix(direction) {
                initials.append(direction.first!)
                rest = rest.dropFirst(direction.count)
            }
            // A compound such as "northeast": take the second direction too.
            for direction in ["east", "west"] where rest.hasPrefix(direction) {
                initials.append(direction.first!)
                rest = rest.dropFirst(direction.count)
            }
            code += initials.isEmpty ? String(word.prefix(1)) : initials
        }
        return code + parts[parts.count - 1]
    }

    /// The zone a subnet is in (spec R36): by a stable hash, unless pinned; no VpcConfig → zone `a`.
    public static func zone(ofSubnet subnet: String?, region: String) -> String {
        guard let subnet else { return region + "a" }
        return zones(of: region)[Int(fnv1a(subnet) % 4)]
    }

    /// The /20 block of a subnet inside 10.0.0.0/8 (spec R35), as its first address; no subnet → 10.1.0.0/20.
    public static func block(ofSubnet subnet: String?) -> UInt32 {
        let index: UInt32 = subnet.map { UInt32(fnv1a($0) % 4096) } ?? 16
        return (10 << 24) | (index << 12)
    }

    /// The first address of the block not in `used`, from the fifth of the block (`.4`) on (spec R35).
    /// - Returns: nil when the block is full.
    public static func nextAddress(inBlockOf subnet: String?, used: Set<UInt32>) -> UInt32? {
        let base = block(ofSubnet: subnet)
        for offset in UInt32(4)..<4095 where !used.contains(base + offset) { return base + offset }
        return nil
    }

    /// Dotted quad of an IPv4 address.
    public static func dotted(_ address: UInt32) -> String {
        "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)"
    }

    /// The address of a dotted quad, nil when it is not one.
    public static func address(_ dotted: String) -> UInt32? {
        let parts = dotted.split(separator: ".").compactMap { UInt32($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { return nil }
        return parts.reduce(0) { $0 << 8 | $1 }
    }

    /// `ip-a-b-c-d.ec2.internal` in us-east-1, else `ip-a-b-c-d.<region>.compute.internal` (spec R35).
    public static func privateDNSHostname(_ address: UInt32, region: String) -> String {
        let name = "ip-" + dotted(address).replacingDots()
        return region == "us-east-1" ? "\(name).ec2.internal" : "\(name).\(region).compute.internal"
    }

    /// FNV-1a over UTF-8: stable across runs and machines (Swift's `Hasher` is seeded per process).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(map { $0 == "." ? "-" : $0 }) }
    fileprivate func replacingDashes() -> String { String(filter { $0 != "-" }) }
}
