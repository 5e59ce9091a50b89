// Whether this CPU can run the bf16 path. Compiled for baseline x86-64: it
// runs on any CPU, including the ones it says no for.
#include "CBF16.h"

#if defined(__x86_64__)
#include <cpuid.h>

int ptrain_bf16_supported(void) {
    unsigned eax, ebx, ecx, edx;
    // Leaf 1 ECX bit 27: OSXSAVE (xgetbv may be executed).
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;
    // XCR0 bits 1, 2, 5, 6, 7: the OS saves SSE, AVX and the three AVX-512 states.
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6u) != 0xE6u) return 0;
    // Leaf 7 subleaf 0 EBX: AVX512F (16), AVX512BW (30), AVX512VL (31).
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    unsigned needed = (1u << 16) | (1u << 30) | (1u << 31);
    if ((ebx & needed) != needed) return 0;
    // Leaf 7 subleaf 1 EAX bit 5: AVX512_BF16 (needs max subleaf >= 1, leaf 7 EAX).
    if (eax < 1 || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax >> 5) & 1;
}
#else
int ptrain_bf16_supported(void) { return 0; }
#endif
