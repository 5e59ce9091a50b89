// Build-time facts passed by Package.swift as -D defines (Swift -D defines
// carry no values, so they live here and are read through functions). The
// fallbacks make a build without them (no git, another build system) still
// compile and say "unknown".
#include "CBuildInfo.h"

#ifndef PTRAIN_GIT_COMMIT
#define PTRAIN_GIT_COMMIT "unknown"
#endif
#ifndef PTRAIN_GIT_DIRTY
#define PTRAIN_GIT_DIRTY -1
#endif
#ifndef PTRAIN_TARGET_CPU
#define PTRAIN_TARGET_CPU "unknown"
#endif
#ifndef PTRAIN_TARGET_FLAGS
#define PTRAIN_TARGET_FLAGS ""
#endif

const char *ptrain_git_commit(void) { return PTRAIN_GIT_COMMIT; }
int ptrain_git_dirty(void) { return PTRAIN_GIT_DIRTY; }
const char *ptrain_target_cpu(void) { return PTRAIN_TARGET_CPU; }
const char *ptrain_target_flags(void) { return PTRAIN_TARGET_FLAGS; }
const char *ptrain_clang_version(void) { return __clang_version__; }
