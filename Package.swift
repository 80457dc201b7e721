// swift-tools-version:6.1
import PackageDescription

/// Release-style optimisation flags shared by every Swift target of the project.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "trainer",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "trainer", targets: ["trainer"]),
        .executable(name: "trainer-bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: module maps over pkg-config, plus static inline shims for C macros.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        // Dataset downloads and importers: HTTP, gzip, PNG and JPEG decoding.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),

        // Hot loops compiled per SIMD level and chosen at run time (see Sources/CKernels/kernels.c).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
        .target(name: "TensorCore", dependencies: ["CBLAS", "CKernels"], swiftSettings: fast),
        .target(name: "NN", dependencies: ["TensorCore"], swiftSettings: fast),
        .target(name: "Models", dependencies: ["ModelNames", "NN"], swiftSettings: fast),
        .target(name: "ModelNames", swiftSettings: fast),
        .target(name: "Config", dependencies: ["ModelNames", "TensorCore", "Yams"], swiftSettings: fast),
        .target(name: "Distributed", dependencies: ["TensorCore", "CMPI"], swiftSettings: fast),
        .target(name: "IO", dependencies: ["TensorCore", "CHDF5", "CCurl", "CZlib", "CPNG", "CJPEG"], swiftSettings: fast),
        .target(name: "Training",
                dependencies: ["Models", "Config", "Distributed", "IO"], swiftSettings: fast),
        .target(name: "Commands", dependencies: ["Training"], swiftSettings: fast),
        .executableTarget(name: "trainer",
                          dependencies: ["Commands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: fast),
        .executableTarget(name: "bench", dependencies: ["Models", "NN", "TensorCore"], swiftSettings: fast),
        .executableTarget(name: "mpi-selftest", dependencies: ["Distributed"], path: "Sources/mpi-selftest"),

        .target(name: "TestSupport", dependencies: ["IO", "TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
        .testTarget(name: "IOTests", dependencies: ["IO", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"]),
    ]
)
