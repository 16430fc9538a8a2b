//go:build !linux

package projection

// adviseHugePages does nothing where huge pages are not asked for.
func adviseHugePages([]byte) {}
