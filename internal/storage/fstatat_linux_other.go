//go:build linux && !amd64 && !arm64

package storage

// sysFstatat 0: fstatatNUL goes through fstatat, where Stat_t and the
// system call differ (stat64 on 32-bit architectures).
const sysFstatat = 0
