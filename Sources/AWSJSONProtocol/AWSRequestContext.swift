/// What an operation handler knows about its request besides the input.
public struct AWSRequestContext: Sendable {
    /// `x-amzn-RequestId` of this request (lowercase UUID v4, spec R5).
    public let requestID: String
    /// The model's operation name, e.g. `DescribeCluster`.
    public let operation: String
    public let identity: AWSIdentity

    public init(requestID: String, operation: String, identity: AWSIdentity) {
        self.requestID = requestID
        self.operation = operation
        self.identity = identity
    }
}
