// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

// The release binary is linked by lld with its relative relocations packed (DT_RELR: 8 KB instead of the
// 960 KB of RELA that the loader reads in every process, each worker included) and without the dynamic
// export of every Swift symbol that the static Swift stdlib asks for (2 MB of .dynsym and .dynstr; nothing
// looks fibd's symbols up at run time, and backtraces read the static symbol table). The sum of idle RSS,
// daemon plus two workers, went from 52.3 to 43.8 MB with these alone.
// The functions a worker and the daemon run at start come first in .text, in the order of
// scripts/fibd-link-order.txt (made by scripts/link-order.py): the kernel maps 64 KB or more around each page
// of code a process runs, so code run at start that is spread over 8 MB of text keeps megabytes mapped. The
// idle daemon's RSS went from 16.1 to 14.4 MB. A stale list costs memory, not correctness.
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
            "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/fibd-link-order.txt",
            "-Xlinker", "--no-warn-symbol-ordering",
        ],
        .when(configuration: .release)
    )
]

// swift-nio-extras's CNIOExtrasZlib, the copy of zlib that fibd deflates with, also asks for the system's libz
// (`.linkedLibrary("z")` in that package's manifest, which we cannot change), of which fibd uses nothing. The
// linker finds scripts/no-system-zlib/libz.so first, an empty linker script: libz.so.1 is not in DT_NEEDED, so
// neither the daemon nor any worker loads it and the .deb does not depend on zlib1g. (--as-needed cannot do
// it: SwiftPM puts a package's linker flags after the libraries on the command line, where it no longer applies
// to -lz.)
let withoutSystemZlib: [LinkerSetting] = [.unsafeFlags(["-L\(Context.packageDirectory)/scripts/no-system-zlib"])]

let package = Package(
    name: "fibd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fibd", targets: ["fibd"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CGMP",
            path: "Sources/CGMP",
            providers: [.apt(["libgmp-dev"])]
        ),
        // memfd_create(2) for FibSystemd's journal entries too large for a datagram; a header, nothing linked.
        .systemLibrary(name: "CMemfd", path: "Sources/CMemfd"),
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "FibMath", dependencies: ["CGMP"], swiftSettings: strict),
        .target(name: "FibCore", dependencies: ["FibMath"], swiftSettings: strict),
        .target(name: "FibStore", dependencies: ["FibCore", "FibMath", "CSQLite"], swiftSettings: strict),
        .target(
            name: "FibWorkers",
            dependencies: [
                "FibCore", "FibMath",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FibServer",
            dependencies: [
                "FibCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FibSystemd",
            dependencies: [
                "CMemfd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fibd",
            dependencies: [
                "FibCore", "FibWorkers", "FibServer", "FibSystemd", "FibStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            linkerSettings: withoutSystemZlib + releaseLinking
        ),
        .testTarget(name: "FibMathTests", dependencies: ["FibMath"], swiftSettings: strict),
        .testTarget(name: "FibCoreTests", dependencies: ["FibCore"], swiftSettings: strict),
        .testTarget(
            name: "FibStoreTests", dependencies: ["FibStore", "FibCore", "FibMath", "CSQLite"], swiftSettings: strict),
        .testTarget(
            name: "FibWorkersTests",
            dependencies: [
                "FibWorkers", "FibCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FibSystemdTests",
            dependencies: [
                "FibSystemd", "CMemfd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FibServerTests",
            dependencies: ["FibServer", "FibCore"],
            swiftSettings: strict
        ),
    ]
)
