/* A stand-in for bcryptprimitives.dll, which wine 8 lacks and Rust's std imports
 * (ProcessPrng) on Windows. scripts/xarch-setup builds it for both wine prefixes. */
#include <windows.h>

/* advapi32's RtlGenRandom is exported as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
