package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// stallingMirror serves the same files as m.srv except stallPath, for which
// it sends the headers (unless beforeHeaders) and then nothing until the
// client goes away.
func stallingMirror(t *testing.T, m *mirror, stallPath string, beforeHeaders bool) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != stallPath {
			m.srv.ServeHTTP(w, r)
			return
		}
		if !beforeHeaders {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets Close return
	return srv
}

// A mirror that stops sending SHA256SUMS or its signature is given up after
// StallTimeout and the next location is used, as for the ISO itself.
func TestFetchMovesOnWhenSumsOrSignatureStalls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		file          string
		beforeHeaders bool
	}{
		{"SHA256SUMS after headers", "SHA256SUMS", false},
		{"SHA256SUMS before headers", "SHA256SUMS", true},
		{"SHA256SUMS.gpg after headers", "SHA256SUMS.gpg", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newMirror(t, 1<<20)
			m.options.StallTimeout = 500 * time.Millisecond
			stalled := stallingMirror(t, m, m.dir+tc.file, tc.beforeHeaders)
			first := config.BaseLocation{ISOURL: stalled.URL + m.dir + isoName, SumsURL: stalled.URL + m.dir + "SHA256SUMS"}
			m.options.Locations = []config.BaseLocation{first, m.location()}
			// Only a guard so that a hang fails instead of blocking the
			// test binary; nothing is asserted about how long it takes.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			res, err := Fetch(ctx, m.options)
			if err != nil {
				t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
			}
			assertCached(t, m, res)
			if res.Source != m.location().ISOURL {
				t.Errorf("Source = %s, want the second location %s", res.Source, m.location().ISOURL)
			}
			assertContains(t, "log", m.logBuf.String(), stalled.URL+m.dir+tc.file+": no data for 500ms", "trying the next location (2 of 2)")
		})
	}
}

// The stall rule is about silence, not total time: SHA256SUMS sent slowly in
// pieces, each well within StallTimeout, is read to the end.
func TestFetchReadsSlowButSteadySums(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 1<<20)
	m.options.StallTimeout = time.Second
	const pieces = 15
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != m.dir+"SHA256SUMS" {
			m.srv.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
		for i := range pieces {
			from, to := i*len(m.sums)/pieces, (i+1)*len(m.sums)/pieces
			if _, err := w.Write(m.sums[from:to]); err != nil {
				return // the client went away
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(slow.Close)
	m.options.Locations = []config.BaseLocation{{ISOURL: slow.URL + m.dir + isoName, SumsURL: slow.URL + m.dir + "SHA256SUMS"}}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	if res.SignedBy != m.signer.fingerprint() {
		t.Errorf("SignedBy = %s, want %s", res.SignedBy, m.signer.fingerprint())
	}
}
