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
        nextAddress(inBlock: block(ofSubnet: subnet), from: block(ofSubnet: subnet) + firstOffset, used: used)
    }

    /// Offsets of the addresses a /20 block issues: `.4` of the block up to, not including, its last (spec R35).
    public static let firstOffset: UInt32 = 4
    public static let endOffset: UInt32 = 4095

    /// The first address of the block starting at `base`, at or after `from`, not in `used`; nil when there is none.
    static func nextAddress(inBlock base: UInt32, from: UInt32, used: Set<UInt32>) -> UInt32? {
        var address = max(from, base + firstOffset)
        while address < base + endOffset {
            if !used.contains(address) { return address }
            address += 1
        }
        return nil
    }

    /// The /20 block after `base` inside 10.0.0.0/8, wrapping from 10.255.240.0 to 10.0.0.0.
    static func block(after base: UInt32) -> UInt32 {
        (10 << 24) | ((((base >> 12) & 0xFFF) + 1) & 0xFFF) << 12
    }

    /// Hands out private addresses per spec R35: sequentially from `.4` of a subnet's /20, skipping addresses in use in
    /// the partition. A full block spills into the next /20 (emulator decision: a /20 holds 4,091 nodes; a bigger fleet
    /// without its own subnets gets further addresses rather than duplicates).
    ///
    /// The addresses in use are read one block at a time, when a block is first needed (`usedInBlock`: the block's
    /// first address → its usage), so an allocation costs at most one block's worth of addresses plus a count of each
    /// full block before it, whatever the partition's size.
    public struct AddressAllocator {
        /// What is in use in one /20 block.
        public enum BlockUsage {
            /// Every address the block issues (`firstOffset ..< endOffset`) is in use.
            case full
            /// These addresses of the block are in use.
            case used(Set<UInt32>)
        }

        let usedInBlock: (UInt32) -> BlockUsage
        var blocks: [UInt32: (used: Set<UInt32>, cursor: UInt32)] = [:]

        public init(usedInBlock: @escaping (UInt32) -> BlockUsage) {
            self.usedInBlock = usedInBlock
        }

        /// Addresses one block issues.
        public static let blockCapacity = Int(Placement.endOffset - Placement.firstOffset)

        /// A free address for a node in `subnet` (nil: no VpcConfig), now marked used.
        public mutating func next(subnet: String?) -> UInt32 {
            let home = Placement.block(ofSubnet: subnet)
            var base = home
            repeat {
                var entry: (used: Set<UInt32>, cursor: UInt32)
                if let known = blocks[base] {
                    entry = known
                } else if case .used(let used) = usedInBlock(base) {
                    entry = (used, base + Placement.firstOffset)
                } else {
                    entry = ([], base + Placement.endOffset)
                }
                if let address = Placement.nextAddress(inBlock: base, from: entry.cursor, used: entry.used) {
                    entry.used.insert(address)
                    entry.cursor = address + 1
                    blocks[base] = entry
                    return address
                }
                blocks[base] = ([], base + Placement.endOffset)
                base = Placement.block(after: base)
            } while base != home
            return home + Placement.firstOffset  // all of 10.0.0.0/8 in use: 16.7 million nodes
        }
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
