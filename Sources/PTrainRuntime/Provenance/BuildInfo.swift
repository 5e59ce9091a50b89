import CBuildInfo

/// What this binary is: version, the git commit it was built from, compiler,
/// configuration and the CPU target it needs (compiled in by Package.swift
/// through CBuildInfo).
public struct BuildInfo: Codable, Sendable, Equatable {
    public let version: String
    /// 40 hex digits, or "unknown" for a build outside a git checkout.
    public let commit: String
    /// Whether the checkout had uncommitted changes; nil when unknown.
    public let uncommittedChanges: Bool?
    /// Swift language compiler release (from `#if compiler`), e.g. "6.3".
    public let swiftCompiler: String
    /// The toolchain's clang version string (it names the LLVM commit).
    public let clang: String
    /// "release" or "debug".
    public let configuration: String
    /// PTRAIN_TARGET_CPU: native, x86-64-v3, x86-64-v4 or znver4.
    public let targetCPU: String
    /// The CPU flags the Swift targets were compiled with.
    public let flags: String
    /// The CPU features the binary checks for at start (/proc/cpuinfo names).
    public let requiredFeatures: [String]

    /// ptrain's own version; bump on a release.
    public static let ptrainVersion = "0.9.0"

    /// This binary's build.
    public static let current = BuildInfo(
        version: ptrainVersion,
        commit: String(cString: ptrain_git_commit()),
        uncommittedChanges: ptrain_git_dirty() < 0 ? nil : ptrain_git_dirty() == 1,
        swiftCompiler: swiftCompilerVersion,
        clang: String(cString: ptrain_clang_version()),
        configuration: isDebugBuild ? "debug" : "release",
        targetCPU: String(cString: ptrain_target_cpu()),
        flags: String(cString: ptrain_target_flags()),
        requiredFeatures: String(cString: ptrain_required_features()).split(separator: " ").map(String.init)
            .filter { ptrain_feature_is_checkable($0) != 0 })

    /// `ptrain --version`: "ptrain 0.9.0 (commit 1fa5cea…, uncommitted changes)"
    /// then "built for native (-target-cpu native), release, Swift 6.3".
    public var versionText: String {
        let state = uncommittedChanges.map { $0 ? ", uncommitted changes" : "" } ?? ", git state unknown"
        return "ptrain \(version) (commit \(commit)\(state))\n"
            + "built for \(targetCPU) (\(flags)), \(configuration), Swift \(swiftCompiler)"
    }

    private static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    /// The language compiler release; Swift has no runtime query for it.
    private static var swiftCompilerVersion: String {
        #if compiler(>=6.4)
        ">=6.4"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }
}
