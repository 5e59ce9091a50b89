// Counts heap allocations made by chosen threads while a counting session is
// open, by interposing malloc and friends (the test executable's definitions
// win over libc's) and forwarding to glibc's __libc_* entry points. For the
// zero-allocation test.
#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>

/// Marks the calling thread as belonging to session `id` (> 0).
void CMallocCounter_track(int64_t id);
/// Opens session `id`: from now on allocations by its threads count (from 0).
void CMallocCounter_start(int64_t id);
/// Closes the session, untracks the calling thread, returns the count.
int64_t CMallocCounter_stop(void);

#endif
