// swift-tools-version:6.0
// ptrain: data-parallel CNN training on CPUs.
//
// Targets follow one dependency direction (docs/architecture.md); an arrow never points up:
//   PTrainKernels <- PTrain <- PTrainData <- PTrainRuntime <- PTrainExperiments <- PTrainCLI (the `ptrain` executable)
//   PTrain <- PTrainReporting <- PTrainRuntime
// CBuildInfo (C) holds the build's provenance and the start-up CPU check.
// CBF16 (C) holds what Swift cannot emit for the bf16 path: the AVX512_BF16
// micro-kernels, the fp32 -> bf16 packing and the CPU check.
// CZlib (zlib, for .gz datasets), CTurboJPEG and CPNG (libjpeg-turbo and libpng,
// for image files) and CHwloc (core topology and pinning) are system-library
// targets; CPNGCodec (C) holds the libpng calls, whose errors longjmp;
// PTrainTopology wraps hwloc for the runtime.
import Foundation
import PackageDescription

/// The SIMD kernels need a vector ISA: without a CPU flag Swift lowers
/// `SIMD16<Float>` fused multiply-adds to per-lane libm calls (~150x slower;
/// see docs/platform.md).
/// `PTRAIN_TARGET_CPU` picks it (default `native`, this machine's CPU). The
/// Swift frontend knows no `x86-64-v3`/`-v4`, so those map to the named CPU
/// with the same vector ISA: haswell (AVX2 + FMA), skylake-avx512 (AVX-512).
let targetCPU = Context.environment["PTRAIN_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 } ?? "native"
let swiftCPU: [String: String] = ["native": "native", "x86-64-v3": "haswell", "x86-64-v4": "skylake-avx512", "znver4": "znver4"]
guard let cpuName = swiftCPU[targetCPU] else {
    fatalError("PTRAIN_TARGET_CPU: expected one of native, x86-64-v3, x86-64-v4, znver4; found '\(targetCPU)'")
}
let hostISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", cpuName])]

/// What `native` meant: the build machine's /proc/cpuinfo flags, so the
/// binary's start-up check knows what it needs (empty where there is no
/// /proc/cpuinfo; then nothing is checked).
let nativeFlags: String = {
    guard targetCPU == "native", let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return "" }
    return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
}()

/// Provenance compiled into CBuildInfo (C, because Swift `-D` defines carry
/// no values): the commit and whether the tree was dirty ("unknown"/-1 in a
/// tarball without .git), and the CPU target with its flags.
let git = Context.gitInformation
let buildInfo: [CSetting] = [
    .define("PTRAIN_GIT_COMMIT", to: "\"\(git?.currentCommit ?? "unknown")\""),
    .define("PTRAIN_GIT_DIRTY", to: git.map { $0.hasUncommittedChanges ? "1" : "0" } ?? "-1"),
    .define("PTRAIN_TARGET_CPU", to: "\"\(targetCPU)\""),
    .define("PTRAIN_TARGET_FLAGS", to: "\"-target-cpu \(cpuName)\""),
    .define("PTRAIN_NATIVE_FLAGS", to: "\"\(nativeFlags)\""),
]

/// The optional multi-process part (issue: past one machine): `PTRAIN_MPI=1
/// swift build -c release --scratch-path .build-mpi` adds the CMPI system
/// library (Open MPI's `ompi-c`, or MPICH with PTRAIN_MPI=mpich) and the
/// PTrainMPI target, and defines PTRAIN_MPI for the CLI. The default build
/// needs no MPI.
let mpi = Context.environment["PTRAIN_MPI"].flatMap { $0.isEmpty || $0 == "0" ? nil : $0 }
let mpiTargets: [Target] = mpi == nil ? [] : [
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: mpi == "mpich" ? "mpich" : "ompi-c",
                   providers: [.apt([mpi == "mpich" ? "libmpich-dev" : "libopenmpi-dev"])]),
    .target(name: "PTrainMPI", dependencies: ["CMPI", "PTrain", "PTrainRuntime"], exclude: ["README.md"], swiftSettings: hostISA),
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
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .target(name: "CPNGCodec", dependencies: ["CPNG"]),
        .systemLibrary(name: "CHwloc", path: "Sources/CHwloc", pkgConfig: "hwloc",
                       providers: [.apt(["libhwloc-dev"])]),
        // Compiled without hostISA: its constructor checks the CPU before any wide-ISA code runs.
        .target(name: "CBuildInfo", cSettings: buildInfo),
        // Compiled without hostISA: its AVX512_BF16 functions carry their own
        // target attribute, and run only after its CPU check says yes.
        .target(name: "CBF16"),
        .target(name: "PTrainKernels", dependencies: ["CBF16"], exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainTopology", dependencies: ["CHwloc"], exclude: ["README.md"]),
        .target(name: "PTrain",
                dependencies: ["PTrainKernels", .product(name: "Yams", package: "Yams")],
                exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainData", dependencies: ["PTrain", "CZlib", "CTurboJPEG", "CPNGCodec"], exclude: ["README.md"], swiftSettings: hostISA),
        // Metrics files, progress lines, SVG charts, TensorBoard events: what a run reports.
        .target(name: "PTrainReporting", dependencies: ["PTrain"], exclude: ["README.md"], swiftSettings: hostISA),
        .target(name: "PTrainRuntime", dependencies: ["PTrainKernels", "PTrain", "PTrainData", "PTrainTopology",
                                                      "PTrainReporting", "CBuildInfo"],
                exclude: ["README.md"], swiftSettings: hostISA),
        // Experiments built on training runs: searches, NTK scores, benchmarks, scaling.
        .target(name: "PTrainExperiments",
                dependencies: ["PTrainKernels", "PTrain", "PTrainData", "PTrainTopology", "PTrainReporting", "PTrainRuntime",
                               .product(name: "Yams", package: "Yams")],
                exclude: ["README.md"], swiftSettings: hostISA),
        .executableTarget(name: "PTrainCLI",
                          dependencies: ["PTrainRuntime", "PTrainExperiments", "PTrainReporting", "PTrainTopology",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")] + cliMPI,
                          exclude: ["README.md"], swiftSettings: cliSettings),
        .testTarget(name: "PTrainKernelsTests", dependencies: ["PTrainKernels", "CBF16"], swiftSettings: hostISA),
        .testTarget(name: "PTrainTests", dependencies: ["PTrain"], swiftSettings: hostISA),
        .testTarget(name: "PTrainDataTests", dependencies: ["PTrainData", "CTurboJPEG"], swiftSettings: hostISA),
        .testTarget(name: "PTrainTopologyTests", dependencies: ["PTrainTopology"]),
        // Interposes malloc in the test executable to count allocations.
        .target(name: "CMallocCounter", path: "Tests/CMallocCounter"),
        .testTarget(name: "PTrainRuntimeTests", dependencies: ["PTrainRuntime", "PTrainExperiments", "PTrainReporting",
                                                              "CMallocCounter", "CZlib", "CBuildInfo"], swiftSettings: hostISA),
    ] + mpiTargets
)
