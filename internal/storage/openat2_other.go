//go:build !linux

package storage

import (
	"errors"
	"os"
)

var errNoOpenat2 = errors.New("openat2 is a Linux call")

func openDirBeneath(*os.File, string) (int, error) { return -1, errNoOpenat2 }

func openFileBeneath(*os.File, string) (*os.File, error) { return nil, errNoOpenat2 }

func setNoOpenat2(bool) {}
