package demo

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// wsReadLimit bounds one echoed message.
const wsReadLimit = 64 << 10

// wsEcho is the WebSocket backend. A WebSocket handshake (RFC 6455 section
// 4.1) at / or /ws is accepted and every text or binary message is sent
// back unchanged; a plain GET of / gets an HTML page whose script connects
// back to the page's own URL, which through Gatehouse is
// ws://HOST/ws/ and reaches this backend's / after the route strips /ws.
//
// Hijacked connections are invisible to http.Server.Shutdown, so wsEcho
// tracks its handlers itself: closeAndWait refuses new ones and waits for
// those running. It is safe for concurrent use.
type wsEcho struct {
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newWSEcho(logger *slog.Logger) *wsEcho { return &wsEcho{logger: logger} }

// enter registers a running handler; false once closeAndWait has started.
func (e *wsEcho) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// closeAndWait refuses new connections and waits for the running ones.
// Their request context is cancelled by the Backends stopping, which ends
// them.
func (e *wsEcho) closeAndWait() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.wg.Wait()
}

// isUpgrade reports whether r asks for a WebSocket upgrade: RFC 9110
// section 7.8 puts the protocol in Upgrade, which is listed in Connection.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
			}
		}
	}
	return false
}

func (e *wsEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "" && r.URL.Path != "/ws" {
		http.NotFound(w, r)
		return
	}
	if !isUpgrade(r) {
		if !allowGet(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(wsPage))
		return
	}
	if !e.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer e.wg.Done()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The page is opened on Gatehouse's listener, on loopback; with
		// preserve_host the Origin then equals Host anyway.
		OriginPatterns: []string{"127.0.0.1:*", "localhost:*"},
	})
	if err != nil {
		// Accept has already answered the client.
		e.logger.Debug("websocket handshake refused", "err", err)
		return
	}
	conn.SetReadLimit(wsReadLimit)
	ctx := r.Context()
	for {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			e.closeConn(ctx, conn, err)
			return
		}
		if err := conn.Write(ctx, typ, msg); err != nil {
			e.closeConn(ctx, conn, err)
			return
		}
	}
}

// closeConn ends conn after err. When the backends stop, the library has
// already dropped the connection on the cancelled context, so there is no
// close handshake to attempt.
func (e *wsEcho) closeConn(ctx context.Context, conn *websocket.Conn, err error) {
	switch {
	case websocket.CloseStatus(err) != -1:
		// The peer closed; the library has already answered its Close.
		return
	case ctx.Err() != nil:
		_ = conn.CloseNow()
	default:
		e.logger.Debug("websocket echo ended", "err", err)
		_ = conn.Close(websocket.StatusInternalError, "")
	}
}

// wsPage is the browser side of the echo demo. It connects to its own URL
// with the ws(s) scheme so it works both through Gatehouse (/ws/) and
// directly on the backend.
const wsPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Gatehouse demo: WebSocket echo</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
#log{background:#f4f4f4;padding:.5rem;min-height:8rem;white-space:pre-wrap;font-family:monospace}</style></head>
<body>
<h1>WebSocket echo</h1>
<p>Status: <span id="status">connecting…</span></p>
<form id="f"><input id="msg" value="hello through Gatehouse" size="40"> <button>Send</button></form>
<div id="log"></div>
<script>
const url = location.href.split('#')[0].split('?')[0].replace(/^http/, 'ws');
const log = (line) => { document.getElementById('log').textContent += line + '\n'; };
const status = document.getElementById('status');
const ws = new WebSocket(url);
ws.onopen = () => { status.textContent = 'connected to ' + url; };
ws.onclose = (e) => { status.textContent = 'closed (' + e.code + ')'; };
ws.onerror = () => { status.textContent = 'error: is the route to /ws/ up?'; };
ws.onmessage = (e) => log('← ' + e.data);
document.getElementById('f').onsubmit = (e) => {
  e.preventDefault();
  const v = document.getElementById('msg').value;
  if (ws.readyState === WebSocket.OPEN) { ws.send(v); log('→ ' + v); }
};
</script>
</body>
</html>
`
