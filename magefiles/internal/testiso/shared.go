package testiso

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sharedBuildTimeout bounds a cold build: the kernel download and every tool.
const sharedBuildTimeout = 15 * time.Minute

var shared struct {
	once    sync.Once
	fixture Fixture
	err     error
}

// Shared returns the standard fixture for tests, built at most once per test
// binary and reused from the on-disk cache across test binaries. A failed
// build fails the calling test. The fixture is shared: copy the ISO before
// changing it.
func Shared(tb testing.TB) Fixture {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sharedBuildTimeout)
		defer cancel()
		shared.fixture, shared.err = Build(ctx, Options{})
	})
	if shared.err != nil {
		tb.Fatalf("building the test ISO: %v", shared.err)
	}
	return shared.fixture
}
