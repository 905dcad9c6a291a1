package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// sseEvent is one received server-sent event and when it was complete.
type sseEvent struct {
	data string
	at   time.Time
}

// readSSE reads events from resp until EOF, an error or stop returns true.
func readSSE(t *testing.T, resp *http.Response, stop func([]sseEvent) bool) ([]sseEvent, error) {
	t.Helper()
	var events []sseEvent
	var data []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				events = append(events, sseEvent{data: strings.Join(data, "\n"), at: time.Now()})
				data = nil
				if stop != nil && stop(events) {
					return events, nil
				}
			}
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	return events, sc.Err()
}

func postChat(t *testing.T, ctx context.Context, c *http.Client, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

func TestChatStream(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	const delay = 25 * time.Millisecond
	resp := postChat(t, t.Context(), c, "http://"+b.Chat+"/v1/chat/completions?delay_ms=25",
		`{"model":"m1","stream":true,"messages":[{"role":"system","content":"x"},{"role":"user","content":"hello there"}],"extra":{"ignored":1}}`)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events, err := readSSE(t, resp, nil)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	want := tokens(reply("hello there"))
	// One event per token, one with the finish reason, then [DONE].
	if len(events) != len(want)+2 {
		t.Fatalf("got %d events, want %d", len(events), len(want)+2)
	}
	if events[len(events)-1].data != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", events[len(events)-1].data)
	}
	var text strings.Builder
	for i, ev := range events[:len(want)] {
		var chunk chatCompletion
		if err := json.Unmarshal([]byte(ev.data), &chunk); err != nil {
			t.Fatalf("event %d: %v: %q", i, err, ev.data)
		}
		if chunk.Object != "chat.completion.chunk" || chunk.Model != "m1" || len(chunk.Choices) != 1 || chunk.Choices[0].Delta == nil {
			t.Fatalf("event %d: unexpected chunk %q", i, ev.data)
		}
		if chunk.Choices[0].Delta.Content != want[i] {
			t.Errorf("event %d: token %q, want %q", i, chunk.Choices[0].Delta.Content, want[i])
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
	}
	if !strings.Contains(text.String(), `"hello there"`) {
		t.Errorf("reply %q does not echo the user message", text.String())
	}
	var final chatCompletion
	if err := json.Unmarshal([]byte(events[len(want)].data), &final); err != nil || final.Choices[0].FinishReason == nil || *final.Choices[0].FinishReason != "stop" {
		t.Errorf("final chunk %q lacks finish_reason stop", events[len(want)].data)
	}

	// Pacing, checked loosely: the tokens arrive spread over at least
	// (n-1) delays (timers never fire early), and most gaps are close to the
	// delay, which a buffering path would collapse to zero.
	tokenEvents := events[:len(want)]
	span := tokenEvents[len(tokenEvents)-1].at.Sub(tokenEvents[0].at)
	if minSpan := time.Duration(len(tokenEvents)-1) * delay * 9 / 10; span < minSpan {
		t.Errorf("tokens spread over %v, want at least %v", span, minSpan)
	}
	gaps := make([]time.Duration, 0, len(tokenEvents)-1)
	for i := 1; i < len(tokenEvents); i++ {
		gaps = append(gaps, tokenEvents[i].at.Sub(tokenEvents[i-1].at))
	}
	slices.Sort(gaps)
	if median := gaps[len(gaps)/2]; median < delay/2 {
		t.Errorf("median gap %v, want about %v (gaps %v)", median, delay, gaps)
	}
}

func TestChatRequests(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	base := "http://" + b.Chat
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"non-streaming answer", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 200, `"object": "chat.completion"`},
		{"echoes the last user message", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"one"},{"role":"assistant","content":"x"},{"role":"user","content":"two"}]}`, 200, `You said: \"two\"`},
		{"content parts", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"parts"}]}]}`, 200, `You said: \"parts\"`},
		{"no messages", "POST", "/v1/chat/completions", `{}`, 200, "Hello from the Gatehouse demo"},
		{"default model", "POST", "/v1/chat/completions", `{}`, 200, `"model": "gatehouse-demo"`},
		{"bad JSON", "POST", "/v1/chat/completions", `{"messages":`, 400, `"type": "invalid_request_error"`},
		{"wrong type", "POST", "/v1/chat/completions", `{"stream":"yes"}`, 400, "JSON chat request"},
		{"bad content", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":42}]}`, 400, "JSON chat request"},
		{"GET refused", "GET", "/v1/chat/completions", "", 405, "use POST"},
		{"bad delay", "POST", "/v1/chat/completions?delay_ms=-1", `{}`, 400, "delay_ms"},
		{"delay too long", "POST", "/v1/chat/completions?delay_ms=10001", `{}`, 400, "delay_ms"},
		{"unknown path", "POST", "/v1/chat/other", `{}`, 404, "not found"},
		{"too large", "POST", "/v1/chat/completions", `{"x":"` + strings.Repeat("a", maxRequestBody) + `"}`, 413, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, tt.method, base+tt.path, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %s does not contain %s", body, tt.wantBody)
			}
		})
	}
}

// TestChatDefaultsFromConstructor checks the injected delay and clock.
func TestChatDefaultsFromConstructor(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(newChat(time.Millisecond, func() time.Time { return at }))
	defer srv.Close()
	c := testClient(t)
	resp := postChat(t, t.Context(), c, srv.URL+"/v1/chat/completions", `{"stream":true}`)
	defer resp.Body.Close()
	events, err := readSSE(t, resp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tokens(reply(""))) + 2; len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	var chunk chatCompletion
	if err := json.Unmarshal([]byte(events[0].data), &chunk); err != nil {
		t.Fatal(err)
	}
	if chunk.Created != at.Unix() || chunk.Choices[0].Delta.Role != "assistant" {
		t.Errorf("first chunk %s: want created %d and role assistant", events[0].data, at.Unix())
	}
}

// TestChatStreamEndsOnClose checks that stopping the backends ends a slow
// stream at once instead of waiting for it.
func TestChatStreamEndsOnClose(t *testing.T) {
	b, err := Start(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t)
	resp := postChat(t, t.Context(), c, "http://"+b.Chat+"/v1/chat/completions?delay_ms=10000", `{"stream":true}`)
	defer resp.Body.Close()
	first, err := readSSE(t, resp, func(ev []sseEvent) bool { return len(ev) == 1 })
	if err != nil || len(first) != 1 {
		t.Fatalf("first event: %v, %d events", err, len(first))
	}
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > backendShutdownTimeout/2 {
		t.Errorf("Close took %v with a stream open", d)
	}
	rest, err := readSSE(t, resp, nil)
	if err == nil && len(rest) > 0 && rest[len(rest)-1].data == "[DONE]" {
		t.Error("stream completed instead of being cut")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("stream ended with %v (expected: cut)", err)
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"one two  three", []string{"one", " two", "  three"}},
		{" lead", []string{" lead"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := tokens(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("tokens(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseChatRequest(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}]}`,
		`{"messages":[{"role":"user","content":null}]}`, `[]`, `null`, `{"messages":`, `{"stream":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, last, err := parseChatRequest(body)
		if err != nil {
			if !errors.Is(err, errChatJSON) && !errors.Is(err, errChatMessages) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		// Whatever was accepted must make a reply whose tokens rebuild it.
		text := reply(last)
		if got := strings.Join(tokens(text), ""); got != text {
			t.Fatalf("tokens do not rebuild %q: %q", text, got)
		}
		_ = req
	})
}
