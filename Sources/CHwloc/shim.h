// hwloc (Portable Hardware Locality), for CPU topology and thread binding.
#ifndef CHWLOC_SHIM_H
#define CHWLOC_SHIM_H

// No _GNU_SOURCE here, though <sched.h> declares sched_getcpu only under it:
// defining it changes glibc's struct layouts (fd_set becomes `fds_bits`), and a
// module that imports both this one and Foundation (i.e. SwiftGlibc, built
// without it) then fails with "'__fds_bits' from module 'SwiftGlibc' is not
// present in definition of 'fd_set' in module 'CHwloc'". So we use the default
// feature macros and repeat glibc's own declaration of sched_getcpu (glibc >= 2.6).
#include <sched.h>
#include <hwloc.h>

extern int sched_getcpu(void);

/// OS index of the PU the calling thread runs on at this instant, or -1 (errno set).
static inline int CHwloc_current_pu(void) { return sched_getcpu(); }

/// hwloc_set_cpubind flags for pinning the calling thread only, and failing
/// rather than silently binding somewhere else. The enum constants import as
/// wrapper structs; one int here keeps the call sites free of rawValue casts.
static inline int CHwloc_bind_thread_strict_flags(void) {
    return HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT;
}

/// hwloc_get_cpubind flags for the whole process: on Linux the union of the
/// affinity masks of all its threads (taskset, Slurm, numactl set them).
static inline int CHwloc_process_flags(void) { return HWLOC_CPUBIND_PROCESS; }

/// hwloc_topology_set_flags value that keeps cgroup-disallowed PUs in the tree,
/// so "allowed/total" can be reported; allowed sets are applied by the caller.
static inline unsigned long CHwloc_include_disallowed_flags(void) {
    return HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED;
}

#endif
