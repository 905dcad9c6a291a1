package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// patternReader yields n deterministic pseudo-random bytes without holding
// them: a 1 MiB block, each pass XORed with the pass number so that a
// proxy dropping or repeating a block changes the checksum.
type patternReader struct {
	block  []byte
	remain int64
	off    int64
	crc    uint32
}

func newPatternReader(n int64) *patternReader {
	r := rand.New(rand.NewPCG(1, 2))
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &patternReader{block: block, remain: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.remain {
		b = b[:p.remain]
	}
	pos := int(p.off % int64(len(p.block)))
	n := copy(b, p.block[pos:])
	pass := byte(p.off / int64(len(p.block)))
	for i := 0; i < n; i += 4096 {
		b[i] ^= pass // one byte per page: cheap, yet every block differs
	}
	p.crc = crc32.Update(p.crc, crc32.IEEETable, b[:n])
	p.off += int64(n)
	p.remain -= int64(n)
	return n, nil
}

// vmRSS returns the resident set size of pid in bytes.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestUpload1GB streams 1 GiB through Gatehouse: the backend must get every
// byte (count and CRC) and Gatehouse's RSS must stay small, proving the body
// is streamed, not buffered. Not parallel: it saturates the machine.
func TestUpload1GB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB upload skipped in -short mode")
	}
	const size = int64(1) << 30
	const rssLimit = 150 << 20
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := crc32.NewIEEE()
		buf := make([]byte, 1<<20)
		n, err := io.CopyBuffer(h, r.Body, buf)
		res := map[string]any{"bytes": n, "crc": h.Sum32(), "err": fmt.Sprint(err)}
		_ = json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(be.Close)
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /upload }
    upstream: sink
upstreams:
  sink: { targets: [ "%s" ] }
`, strings.TrimPrefix(be.URL, "http://")))

	base, err := vmRSS(inst.PID())
	if err != nil {
		t.Fatal(err)
	}
	var maxRSS atomic.Int64
	maxRSS.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v, err := vmRSS(inst.PID()); err == nil && v > maxRSS.Load() {
					maxRSS.Store(v)
				}
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	body := newPatternReader(size)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, inst.URL("/upload"), body)
	req.ContentLength = size
	tr := &http.Transport{Proxy: nil, WriteBufferSize: 256 << 10, ReadBufferSize: 64 << 10}
	defer tr.CloseIdleConnections()
	began := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("upload: %v (after %v)", err, time.Since(began))
	}
	defer resp.Body.Close()
	elapsed := time.Since(began)
	var res struct {
		Bytes int64  `json:"bytes"`
		CRC   uint32 `json:"crc"`
		Err   string `json:"err"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("status %d, decoding backend answer: %v", resp.StatusCode, err)
	}
	t.Logf("1 GiB in %v (%.0f MB/s); gatehouse RSS %d MiB before, max %d MiB during",
		elapsed, float64(size)/elapsed.Seconds()/1e6, base>>20, maxRSS.Load()>>20)
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if res.Bytes != size || res.Err != "<nil>" {
		t.Errorf("backend got %d bytes (err %s), want %d", res.Bytes, res.Err, size)
	}
	if res.CRC != body.crc {
		t.Errorf("backend CRC %08x, sent %08x", res.CRC, body.crc)
	}
	if m := maxRSS.Load(); m > rssLimit {
		t.Errorf("gatehouse RSS peaked at %d MiB, want < %d MiB: the body is buffered", m>>20, rssLimit>>20)
	}
}

// TestBodyLimit: body_limit answers 413 both for a declared oversize
// Content-Length and for a chunked body that grows past the limit, and the
// backend never gets a complete request.
func TestBodyLimit(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /limited/* }
    middleware:
      - body_limit: { max: 1KB }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))

	small := strings.Repeat("s", 512)
	big := strings.Repeat("b", 4096)
	chunked := func(s string) string {
		var b strings.Builder
		for len(s) > 0 {
			n := min(len(s), 1000)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, s[:n])
			s = s[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.String()
	}
	cases := []struct {
		name   string
		req    string
		status int
		total  int // backend complete requests expected after this case
	}{
		{name: "under the limit", req: "POST /limited/a HTTP/1.1\r\nHost: b.test\r\nContent-Length: 512\r\n\r\n" + small, status: 200, total: 1},
		{name: "content-length over", req: "POST /limited/b HTTP/1.1\r\nHost: b.test\r\nContent-Length: 4096\r\n\r\n" + big, status: 413, total: 1},
		{name: "chunked over", req: "POST /limited/c HTTP/1.1\r\nHost: b.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(big), status: 413, total: 1},
		{name: "chunked under", req: "POST /limited/d HTTP/1.1\r\nHost: b.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(small), status: 200, total: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := rawExchange(inst.Addr, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			// The backend may see the head of a chunked request that is
			// cut off, but never a complete body.
			if got := be.Complete(); got != tc.total {
				t.Errorf("backend complete requests = %d, want %d", got, tc.total)
			}
		})
	}
}
