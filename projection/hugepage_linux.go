package projection

import "syscall"

// adviseHugePages asks for b, a mapping outside the Go heap, to be backed
// by huge pages where the kernel gives them on request: a table read at
// random then costs one cache miss a lookup, not a TLB miss besides. An
// error is ignored (the pages stay small).
func adviseHugePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }
