import FibServer

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the bearer token from its file: --token-file, else the systemd credential `fibd-token`
/// (LoadCredential=fibd-token:/path puts it in $CREDENTIALS_DIRECTORY). Never from the command line or
/// the environment, where other users and child processes could read it.
enum AccessToken {
    static let credentialName = "fibd-token"
    /// Shorter tokens are guessable: refused.
    static let minimumLength = 16
    static let maximumLength = 4096

    /// The file the token is read from; nil when none is configured (every route open).
    static func path(configuration: Configuration, environment: [String: String]) -> String? {
        if let file = configuration.tokenFile { return file }
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return nil }
        let candidate = directory + "/" + credentialName
        return access(candidate, F_OK) == 0 ? candidate : nil
    }

    /// The access policy of a configuration, with the token read now (at start and on each reload).
    static func policy(configuration: Configuration, environment: [String: String]) throws -> AccessPolicy {
        guard let path = path(configuration: configuration, environment: environment) else { return .open }
        return AccessPolicy(token: try read(path), scope: configuration.tokenScope)
    }

    /// The token: the file's content without trailing whitespace. Refuses a file that other users may read
    /// or write, one that is not a regular file, and a token that is too short or not printable ASCII.
    static func read(_ path: String) throws -> [UInt8] {
        func failure(_ reason: String) -> ConfigurationError {
            ConfigurationError(description: "token file \(path): \(reason)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw failure("not a regular file") }
        let mode = info.st_mode & 0o777
        if mode & (S_IROTH | S_IWOTH) != 0 {
            let octal = String(mode, radix: 8)
            throw failure("every user may read or change it (mode \(octal)); make it private: chmod o-rw \(path)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= maximumLength {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw failure(String(cString: strerror(errno))) }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        // Trailing whitespace: the newline that editors and `echo` add.
        while let last = bytes.last, last <= 0x20 { bytes.removeLast() }
        guard bytes.count <= maximumLength else { throw failure("longer than \(maximumLength) bytes") }
        guard bytes.count >= minimumLength else {
            throw failure("the token must be at least \(minimumLength) characters (it has \(bytes.count))")
        }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw failure("the token must be one line of printable ASCII without spaces")
        }
        return bytes
    }
}
