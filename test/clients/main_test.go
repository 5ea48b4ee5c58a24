package clients

import (
	"testing"

	"github.com/davnas/davnas/internal/testutil"
)

// TestMain removes the davnas binary the tests built when they are done.
func TestMain(m *testing.M) { testutil.Main(m) }
