package storage

import "golang.org/x/sys/unix"

// sysFstatat is fstatat(2)'s number, for fstatatNUL.
const sysFstatat = unix.SYS_FSTATAT
