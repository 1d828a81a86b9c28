// Heap usage for duet-bench: how many bytes a data structure retains is the difference in
// bytes allocated before and after building it. Benchmarks only; no Duet module uses it.
#ifndef DUET_HEAP_STATISTICS_H
#define DUET_HEAP_STATISTICS_H

#include <stddef.h>

/// Bytes currently allocated through malloc (small and mmapped blocks), or 0 where unknown.
size_t duet_heap_bytes_in_use(void);

#endif
