// Package version reports what binary this is. Version and Commit are set at
// link time by the Makefile (-ldflags -X); a plain `go build` falls back to
// the module and VCS information the Go toolchain embeds.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var (
	// Version is the release, e.g. v0.1.0.
	Version = ""
	// Commit is the VCS revision the binary was built from.
	Commit = ""
)

// Info returns version, commit and Go version, filled in from the build
// information when the linker did not set them.
func Info() (ver, commit, goVersion string) {
	ver, commit = Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	return ver, commit, runtime.Version()
}

// String is the one-line form `davnas version` prints.
func String() string {
	v, c, g := Info()
	return fmt.Sprintf("davnas %s (commit %s, %s)", v, c, g)
}
