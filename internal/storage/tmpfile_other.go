//go:build !linux

package storage

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

var errNoTmpfile = errors.New("unnamed files are a Linux feature")

func openTmpfile(dirHandle, fs.FileMode) (*os.File, error) { return nil, errNoTmpfile }

func openTmpfileFd(dirHandle, fs.FileMode) (int, error) { return -1, errNoTmpfile }

func linkTmpfile(*os.File, dirHandle, string) error { return errNoTmpfile }

func linkTmpfileFd(int, dirHandle, string) error { return errNoTmpfile }

func setFileTimes(*os.File, time.Time) error { return errNoTmpfile }

func tmpfileWorks(dirHandle, *os.Root) bool { return false }

func setNoEmptyPathLink(bool) {}
