// swift-tools-version:6.0
// ptrain: data-parallel CNN training on CPUs.
//
// Targets follow one dependency direction (docs/architecture.md); an arrow never points up:
//   PTrainKernels <- PTrain <- PTrainData <- PTrainRuntime <- PTrainCLI (the `ptrain` executable)
// CZlib (zlib, for .gz datasets) and CHwloc (core topology and pinning) are
// system-library targets; PTrainTopology wraps hwloc for the runtime.
import PackageDescription

/// The SIMD kernels need the host's vector ISA: without a CPU flag Swift lowers
/// `SIMD16<Float>` fused multiply-adds to per-lane libm calls (~150x slower).
/// See docs/platform.md. `-target-cpu native` lets LLVM emit AVX-512 FMAs.
let hostISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native"])]

/// The optional multi-process part (issue: past one machine): `PTRAIN_MPI=1
/// swift build -c release --scratch-path .build-mpi` adds the CMPI system
/// library (Open MPI's `ompi-c`, or MPICH with PTRAIN_MPI=mpich) and the
/// PTrainMPI target, and defines PTRAIN_MPI for the CLI. The default build
/// needs no MPI.
let mpi = Context.environment["PTRAIN_MPI"].flatMap { $0.isEmpty || $0 == "0" ? nil : $0 }
let mpiTargets: [Target] = mpi == nil ? [] : [
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: mpi == "mpich" ? "mpich" : "ompi-c",
                   providers: [.apt([mpi == "mpich" ? "libmpich-dev" : "libopenmpi-dev"])]),
    .target(name: "PTrainMPI", dependencies: ["CMPI", "PTrainRuntime"], exclude: ["README.md"], swiftSettings: hostISA),
]
let cliMPI: [Target.Dependency] = mpi == nil ? [] : ["PTrainMPI"]
let cliSettings: [SwiftSetting] = hostISA + (mpi == nil ? [] : [.define("PTRAIN_MPI")])

let package = Package(
    name: "ptrain",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ptrain", targets: ["PTrainCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CHwloc", path: "Sources/CHwloc", pkgConfig: "hwloc",
                       providers: [.apt(["libhwloc-dev"])]),
        .target(name: "PTrainKernels", exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainTopology", dependencies: ["CHwloc"], exclude: ["README.md"]),
        .target(name: "PTrain",
                dependencies: ["PTrainKernels", .product(name: "Yams", package: "Yams")],
                exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainData", dependencies: ["PTrain", "CZlib"], exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainRuntime", dependencies: ["PTrainKernels", "PTrain", "PTrainData", "PTrainTopology"],
                exclude: ["README.md"], swiftSettings: hostISA),
        .executableTarget(name: "PTrainCLI",
                          dependencies: ["PTrainRuntime", "PTrainTopology",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")] + cliMPI,
                          exclude: ["README.md"], swiftSettings: cliSettings),
        .testTarget(name: "PTrainKernelsTests", dependencies: ["PTrainKernels"], swiftSettings: hostISA),
        .testTarget(name: "PTrainTests", dependencies: ["PTrain"], swiftSettings: hostISA),
        .testTarget(name: "PTrainDataTests", dependencies: ["PTrainData"], swiftSettings: hostISA),
        .testTarget(name: "PTrainTopologyTests", dependencies: ["PTrainTopology"]),
        // Interposes malloc in the test executable to count allocations.
        .target(name: "CMallocCounter", path: "Tests/CMallocCounter"),
        .testTarget(name: "PTrainRuntimeTests", dependencies: ["PTrainRuntime", "CMallocCounter", "CZlib"], swiftSettings: hostISA),
    ] + mpiTargets
)
