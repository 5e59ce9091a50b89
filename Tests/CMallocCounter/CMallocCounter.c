#define _GNU_SOURCE
#include "CMallocCounter.h"
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/// The session being counted (0: none) and its count. Only threads tracked
/// for that session count: tests run concurrently in one process, and their
/// allocations must not be charged to each other.
static atomic_llong session;
static atomic_llong count;
static _Thread_local long long tracked;

static inline void note(void) {
    long long s = atomic_load_explicit(&session, memory_order_relaxed);
    if (s != 0 && tracked == s) atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
}

void CMallocCounter_track(int64_t id) { tracked = id; }
void CMallocCounter_start(int64_t id) { atomic_store(&count, 0); atomic_store(&session, id); }
int64_t CMallocCounter_stop(void) { atomic_store(&session, 0); tracked = 0; return atomic_load(&count); }

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    note();
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
