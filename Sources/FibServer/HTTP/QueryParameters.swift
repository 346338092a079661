/// The query string of a request as ordered (name, value) pairs. Decoding (`%XX`, `+` as space)
/// happens on access, so requests that never look at their query pay nothing for it.
/// Malformed escapes are kept literally rather than failing the request.
public struct QueryParameters: Sendable, Sequence {
    /// The query as sent, without the leading `?`.
    public let raw: Substring

    public init(raw: Substring) {
        self.raw = raw
    }

    public init(_ raw: String) {
        self.raw = raw[...]
    }

    public var isEmpty: Bool { raw.isEmpty }

    /// The first value of the parameter `name` (`""` for `?name` or `?name=`), or `nil` if absent.
    public subscript(name: String) -> String? {
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let (encodedName, encodedValue) = Self.split(pair)
            if PercentDecoding.componentEquals(encodedName, name) { return Self.decode(encodedValue) }
        }
        return nil
    }

    /// Every value of the parameter `name`, in order.
    public func values(named name: String) -> [String] {
        raw.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
            let (encodedName, encodedValue) = Self.split(pair)
            return PercentDecoding.componentEquals(encodedName, name) ? Self.decode(encodedValue) : nil
        }
    }

    /// The decoded names, in order, duplicates included.
    public var names: [String] { map(\.name) }

    public struct Iterator: IteratorProtocol {
        private var pairs: [Substring].Iterator

        init(raw: Substring) {
            self.pairs = raw.split(separator: "&", omittingEmptySubsequences: true).makeIterator()
        }

        public mutating func next() -> (name: String, value: String)? {
            guard let pair = pairs.next() else { return nil }
            let (name, value) = QueryParameters.split(pair)
            return (QueryParameters.decode(name), QueryParameters.decode(value))
        }
    }

    public func makeIterator() -> Iterator { Iterator(raw: raw) }

    private static func split(_ pair: Substring) -> (Substring, Substring) {
        guard let equals = pair.firstIndex(of: "=") else { return (pair, pair[pair.endIndex...]) }
        return (pair[..<equals], pair[pair.index(after: equals)...])
    }

    private static func decode(_ component: Substring) -> String {
        PercentDecoding.decode(component, plusAsSpace: true) ?? String(component)
    }
}
