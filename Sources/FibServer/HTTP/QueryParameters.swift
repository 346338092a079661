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
        var pairs = RawPairs(raw)
        while let (encodedName, encodedValue) = pairs.next() {
            if PercentDecoding.componentEquals(encodedName, name) { return Self.decode(encodedValue) }
        }
        return nil
    }

    /// Every value of the parameter `name`, in order.
    public func values(named name: String) -> [String] {
        var values: [String] = []
        var pairs = RawPairs(raw)
        while let (encodedName, encodedValue) = pairs.next() {
            if PercentDecoding.componentEquals(encodedName, name) { values.append(Self.decode(encodedValue)) }
        }
        return values
    }

    /// The decoded names, in order, duplicates included.
    public var names: [String] { map(\.name) }

    public struct Iterator: IteratorProtocol {
        private var pairs: RawPairs

        init(raw: Substring) {
            self.pairs = RawPairs(raw)
        }

        public mutating func next() -> (name: String, value: String)? {
            guard let (name, value) = pairs.next() else { return nil }
            return (QueryParameters.decode(name), QueryParameters.decode(value))
        }
    }

    public func makeIterator() -> Iterator { Iterator(raw: raw) }

    private static func decode(_ component: Substring) -> String {
        PercentDecoding.decode(component, plusAsSpace: true) ?? String(component)
    }
}

/// Walks `name=value` pairs separated by `&` over the UTF-8 view, skipping empty pairs,
/// without allocating.
private struct RawPairs {
    private var rest: Substring

    init(_ raw: Substring) {
        self.rest = raw
    }

    mutating func next() -> (Substring, Substring)? {
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end == rest.endIndex ? rest[end...] : rest[rest.utf8.index(after: end)...]
            if pair.isEmpty { continue }
            guard let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                return (pair, pair[pair.endIndex...])
            }
            return (pair[..<equals], pair[pair.utf8.index(after: equals)...])
        }
        return nil
    }
}
