// The start-up CPU check: a binary built for AVX-512 (or AVX2) must say so in
// one line on a CPU without it, instead of dying of SIGILL in the first
// kernel. It runs as a constructor, before main and before any Swift code, and
// this file is compiled without the wide-ISA flags, so the check itself only
// uses baseline x86-64 instructions.
#include "CBuildInfo.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef PTRAIN_NATIVE_FLAGS
#define PTRAIN_NATIVE_FLAGS ""
#endif

/// A vector-relevant CPU feature by its /proc/cpuinfo name, and whether this
/// CPU has it (`__builtin_cpu_supports` takes only string literals, hence the
/// macro). Not x86: no checkable features, so the check passes.
typedef struct { const char *name; int present; } Feature;
#if defined(__x86_64__) || defined(__i386__)
#define FEATURE(cpuinfo, builtin) { cpuinfo, __builtin_cpu_supports(builtin) != 0 }
#define FEATURE_TABLE { \
    FEATURE("sse4_2", "sse4.2"), FEATURE("popcnt", "popcnt"), FEATURE("avx", "avx"), FEATURE("avx2", "avx2"), \
    FEATURE("fma", "fma"), FEATURE("bmi1", "bmi"), FEATURE("bmi2", "bmi2"), FEATURE("f16c", "f16c"), \
    FEATURE("movbe", "movbe"), FEATURE("abm", "lzcnt"), \
    FEATURE("avx512f", "avx512f"), FEATURE("avx512bw", "avx512bw"), FEATURE("avx512vl", "avx512vl"), \
    FEATURE("avx512dq", "avx512dq"), FEATURE("avx512cd", "avx512cd"), FEATURE("avx512ifma", "avx512ifma"), \
    FEATURE("avx512vbmi", "avx512vbmi"), FEATURE("avx512_vbmi2", "avx512vbmi2"), \
    FEATURE("avx512_vnni", "avx512vnni"), FEATURE("avx512_bf16", "avx512bf16"), \
    FEATURE("avx512_bitalg", "avx512bitalg"), FEATURE("avx512_vpopcntdq", "avx512vpopcntdq"), \
    FEATURE("gfni", "gfni"), FEATURE("vaes", "vaes"), FEATURE("vpclmulqdq", "vpclmulqdq"), \
    FEATURE("amx_tile", "amx-tile"), FEATURE("amx_int8", "amx-int8"), FEATURE("amx_bf16", "amx-bf16") }
#else
#define FEATURE_TABLE { { NULL, 0 } }
#endif

/// The named PTRAIN_TARGET_CPU values and the features each needs, widest
/// first (the order the rebuild suggestion tries them in). x86-64-v3/v4 are
/// the psABI levels restricted to the checkable features.
static const struct { const char *name; const char *features; } targets[] = {
    { "znver4", "sse4_2 popcnt avx avx2 fma bmi1 bmi2 f16c movbe abm avx512f avx512bw avx512vl avx512dq avx512cd "
                "avx512ifma avx512vbmi avx512_vbmi2 avx512_vnni avx512_bf16 avx512_bitalg avx512_vpopcntdq "
                "gfni vaes vpclmulqdq" },
    { "x86-64-v4", "sse4_2 popcnt avx avx2 fma bmi1 bmi2 f16c movbe abm avx512f avx512bw avx512vl avx512dq avx512cd" },
    { "x86-64-v3", "sse4_2 popcnt avx avx2 fma bmi1 bmi2 f16c movbe abm" },
};
static const size_t targetCount = sizeof targets / sizeof targets[0];

/// Whether the space-separated `list` holds the word `word[0..<length]`.
static int contains(const char *list, const char *word, size_t length) {
    for (const char *p = list; *p; ) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n == length && n > 0 && strncmp(p, word, n) == 0) return 1;
        p += n;
    }
    return 0;
}

/// Appends `text` to the NUL-terminated `out`, truncating at `capacity`.
static void append(char *out, size_t capacity, const char *text, size_t length) {
    size_t used = strlen(out);
    if (used + 1 >= capacity) return;
    size_t n = length < capacity - used - 1 ? length : capacity - used - 1;
    memcpy(out + used, text, n);
    out[used + n] = 0;
}

/// Appends the words of `list` that `keep(word)` accepts, joined by `separator`.
static void appendWords(char *out, size_t capacity, const char *list, const char *separator,
                        int (*keep)(const char *word, size_t length, const void *context), const void *context) {
    int first = 1;
    for (const char *p = list; *p; ) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n > 0 && keep(p, n, context)) {
            if (!first) append(out, capacity, separator, strlen(separator));
            append(out, capacity, p, n);
            first = 0;
        }
        p += n;
    }
}

static int isCheckable(const char *word, size_t length, const void *context) {
    (void)context;
    const Feature table[] = FEATURE_TABLE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].name && strlen(table[i].name) == length && strncmp(table[i].name, word, length) == 0) return 1;
    }
    return 0;
}

static int isMissing(const char *word, size_t length, const void *available) {
    return isCheckable(word, length, NULL) && !contains(available, word, length);
}

int ptrain_feature_is_checkable(const char *feature) { return isCheckable(feature, strlen(feature), NULL); }

const char *ptrain_required_features(void) {
    for (size_t i = 0; i < targetCount; i++) {
        if (strcmp(targets[i].name, ptrain_target_cpu()) == 0) return targets[i].features;
    }
    return PTRAIN_NATIVE_FLAGS;
}

void ptrain_available_features(char *out, size_t capacity) {
    if (capacity == 0) return;
    out[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#endif
    const Feature table[] = FEATURE_TABLE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!table[i].name || !table[i].present) continue;
        if (out[0]) append(out, capacity, " ", 1);
        append(out, capacity, table[i].name, strlen(table[i].name));
    }
}

int ptrain_cpu_check(const char *target, const char *required, const char *available,
                     const char *model, char *message, size_t capacity) {
    if (capacity == 0) return 1;
    message[0] = 0;
    char missing[512] = "";
    appendWords(missing, sizeof missing, required, ", ", isMissing, available);
    if (!missing[0]) return 0;
    const char *suggestion = "native";
    for (size_t i = 0; i < targetCount; i++) {
        char lacks[512] = "";
        appendWords(lacks, sizeof lacks, targets[i].features, " ", isMissing, available);
        if (!lacks[0]) { suggestion = targets[i].name; break; }
    }
    const char *parts[] = { "this ptrain was built for ", target, " (needs " };
    for (size_t i = 0; i < 3; i++) append(message, capacity, parts[i], strlen(parts[i]));
    appendWords(message, capacity, required, ", ", isCheckable, NULL);
    const char *rest[] = { "); this CPU (", model, ") lacks ", missing, ". Rebuild with PTRAIN_TARGET_CPU=", suggestion };
    for (size_t i = 0; i < 6; i++) append(message, capacity, rest[i], strlen(rest[i]));
    return 1;
}

/// The CPU's "model name" from /proc/cpuinfo, or "unknown model".
static void readModel(char *out, size_t capacity) {
    snprintf(out, capacity, "unknown model");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *value = strchr(line, ':');
        if (!value) break;
        value += 1 + strspn(value + 1, " \t");
        snprintf(out, capacity, "%.*s", (int)strcspn(value, "\n"), value);
        break;
    }
    fclose(f);
}

/// Runs before main: on a CPU that lacks what the binary was built for, print
/// one line and exit 1 (`_exit`: no Swift atexit code may run).
__attribute__((constructor)) static void checkCPUAtStart(void) {
    char available[1024], model[256], message[2048];
    ptrain_available_features(available, sizeof available);
    readModel(model, sizeof model);
    if (ptrain_cpu_check(ptrain_target_cpu(), ptrain_required_features(), available, model, message, sizeof message)) {
        fprintf(stderr, "error: %s\n", message);
        fflush(stderr);
        _exit(1);
    }
}
