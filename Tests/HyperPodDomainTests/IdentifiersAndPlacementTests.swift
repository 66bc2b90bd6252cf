import Testing
@testable import HyperPodDomain

struct IdentifiersAndPlacementTests {
    @Test func ids_HaveTheModelsShapes_AndASeedReproducesThem() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        let id = Identifiers.clusterID(using: &a)
        #expect(id == Identifiers.clusterID(using: &b))
        #expect(id.count == 12 && id.allSatisfy { $0.isLowercase || $0.isNumber })
        let instance = Identifiers.instanceID(using: &a)
        #expect(instance.hasPrefix("i-") && instance.count == 19 && instance.dropFirst(2).allSatisfy(\.isHexDigit))
        let uuid = Array(Identifiers.uuid(using: &a))
        #expect(uuid.count == 36 && uuid[14] == "4" && "89ab".contains(uuid[19]))
        var c = SeededGenerator(seed: 43)
        #expect(Identifiers.clusterID(using: &c) != id)
    }

    @Test func clusterARN_RoundTrips() throws {
        let arn = Identifiers.clusterARN(partition: "aws-cn", region: "cn-north-1", account: "111122223333", clusterID: "abcdef012345")
        #expect(arn == "arn:aws-cn:sagemaker:cn-north-1:111122223333:cluster/abcdef012345")
        let parts = try #require(Identifiers.parseClusterARN(arn))
        #expect(parts.partition == "aws-cn" && parts.region == "cn-north-1" && parts.account == "111122223333" && parts.clusterID == "abcdef012345")
        #expect(Identifiers.parseClusterARN("my-cluster") == nil)
    }

    @Test(arguments: [("us-east-1", "use1"), ("us-east-2", "use2"), ("ap-northeast-1", "apne1"), ("eu-central-1", "euc1"),
                      ("us-west-2", "usw2"), ("ap-southeast-2", "apse2"), ("us-gov-west-1", "usgw1"), ("eu-west-3", "euw3")])
    func regionCodes_FollowR36(_ example: (String, String)) {
        #expect(Placement.regionCode(example.0) == example.1)
    }

    @Test func zones_AndZoneIDs() {
        #expect(Placement.zones(of: "us-west-2") == ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"])
        #expect(Placement.zoneID(of: "ap-northeast-1c", region: "ap-northeast-1") == "apne1-az3")
        #expect(Placement.zone(ofSubnet: nil, region: "us-east-1") == "us-east-1a")
        let zone = Placement.zone(ofSubnet: "subnet-0abc", region: "us-east-1")
        #expect(zone == Placement.zone(ofSubnet: "subnet-0abc", region: "us-east-1"))  // stable
    }

    @Test func addresses_AreSequentialFromTheFifthOfTheSubnetsBlock() throws {
        #expect(Placement.dotted(Placement.block(ofSubnet: nil)) == "10.1.0.0")
        let first = try #require(Placement.nextAddress(inBlockOf: nil, used: []))
        #expect(Placement.dotted(first) == "10.1.0.4")
        let second = try #require(Placement.nextAddress(inBlockOf: nil, used: [first]))
        #expect(Placement.dotted(second) == "10.1.0.5")
        let block = Placement.block(ofSubnet: "subnet-0abc")
        #expect(block & 0xFFF == 0 && block >> 24 == 10)
        #expect(Placement.address("10.1.0.5") == second)
    }

    @Test func addressAllocator_SkipsAddressesInUse_AndReadsEachBlockOnce() {
        let home = Placement.block(ofSubnet: "subnet-0abc")
        var reads: [UInt32] = []
        var allocator = Placement.AddressAllocator { base in
            reads.append(base)
            return .used([base + 4, base + 6])
        }
        #expect(allocator.next(subnet: "subnet-0abc") == home + 5)
        #expect(allocator.next(subnet: "subnet-0abc") == home + 7)
        #expect(allocator.next(subnet: "subnet-0abc") == home + 8)
        #expect(reads == [home])
    }

    /// R35's /20 holds 4,091 nodes; past that, addresses continue in the next block instead of repeating (emulator
    /// decision).
    @Test func addressAllocator_SpillsIntoTheNextBlock_WhenABlockIsFull() {
        let home = Placement.block(ofSubnet: nil)
        let next = home + 4096
        var lastFree = Placement.AddressAllocator { base in
            base == home ? .used(Set((home + 4)..<(home + 4094))) : .used([])
        }
        #expect(Placement.dotted(lastFree.next(subnet: nil)) == "10.1.15.254")
        #expect(lastFree.next(subnet: nil) == next + 4)
        var full = Placement.AddressAllocator { base in base == home ? .full : .used([base + 4]) }
        #expect(full.next(subnet: nil) == next + 5)
        // Blocks follow each other inside 10.0.0.0/8; the last wraps to the first.
        #expect(Placement.dotted(Placement.block(after: home)) == "10.1.16.0")
        #expect(Placement.dotted(Placement.block(after: Placement.address("10.255.240.0")!)) == "10.0.0.0")
    }

    @Test func hostnames_FollowR35() {
        let address = Placement.address("10.1.2.3")!
        #expect(Placement.privateDNSHostname(address, region: "us-east-1") == "ip-10-1-2-3.ec2.internal")
        #expect(Placement.privateDNSHostname(address, region: "eu-west-1") == "ip-10-1-2-3.eu-west-1.compute.internal")
    }
}
