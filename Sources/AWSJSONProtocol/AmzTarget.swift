/// The `X-Amz-Target` header of an AWS JSON 1.1 request: `<targetPrefix>.<Operation>` (spec R2, AWS doc D4).
public struct AmzTarget: Sendable, Equatable {
    public let prefix: Substring
    public let operation: Substring

    /// Splits `header` at its last `.`; nil when there is no `.` or either side is empty.
    public init?(_ header: String) {
        guard let dot = header.lastIndex(of: ".") else { return nil }
        prefix = header[..<dot]
        operation = header[header.index(after: dot)...]
        if prefix.isEmpty || operation.isEmpty { return nil }
    }

    /// The operation name when the prefix is SageMaker's and the model has the operation (spec R4), else nil.
    public var sageMakerOperation: String? {
        guard prefix == SageMakerOperations.targetPrefix else { return nil }
        let name = String(operation)
        return SageMakerOperations.names.contains(name) ? name : nil
    }
}
