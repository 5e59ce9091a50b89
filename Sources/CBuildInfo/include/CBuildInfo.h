// What this ptrain binary is and which CPU it needs. Compiled WITHOUT the
// wide-ISA flags the Swift targets use, so that the start-up CPU check can run
// (and refuse politely) on a CPU that would otherwise die of SIGILL.
#ifndef CBUILDINFO_H
#define CBUILDINFO_H

#include <stddef.h>

/// Git commit the binary was built from (40 hex digits), or "unknown" for a
/// build outside a git checkout (e.g. a source tarball).
const char *ptrain_git_commit(void);
/// 1 when the checkout had uncommitted changes at build time, 0 when clean,
/// -1 when unknown (no git information).
int ptrain_git_dirty(void);
/// The PTRAIN_TARGET_CPU the binary was built for: "native", "x86-64-v3", ...
const char *ptrain_target_cpu(void);
/// The Swift compiler flags that select that CPU (e.g. "-target-cpu haswell").
const char *ptrain_target_flags(void);
/// Version string of the C compiler of the toolchain (clang's __clang_version__).
const char *ptrain_clang_version(void);

/// The CPU features (space-separated /proc/cpuinfo names) the binary needs:
/// the named target's list, or for "native" every flag the build machine had
/// (only the checkable ones count; see `ptrain_feature_is_checkable`).
const char *ptrain_required_features(void);
/// Writes the checkable features this CPU has (space-separated /proc/cpuinfo
/// names, as `__builtin_cpu_supports` reports them) into `out`.
void ptrain_available_features(char *out, size_t capacity);
/// Whether `feature` (a /proc/cpuinfo name) is one the start-up check can test.
int ptrain_feature_is_checkable(const char *feature);

/// The start-up check as a pure function: 0 when every checkable feature of
/// `required` is in `available` (both space-separated); otherwise 1, and
/// `message` gets one line (no "error: " prefix, no newline) naming the target,
/// its needs, the CPU `model`, what it lacks and a target to rebuild with.
int ptrain_cpu_check(const char *target, const char *required, const char *available,
                     const char *model, char *message, size_t capacity);

#endif
