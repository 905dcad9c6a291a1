package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Chat stream pacing: one token per defaultTokenDelay unless the request
// asks otherwise with ?delay_ms=N (0..maxTokenDelay).
const (
	defaultTokenDelay = 150 * time.Millisecond
	maxTokenDelay     = 10 * time.Second
	// maxEcho bounds how much of the user's message the reply repeats.
	maxEcho = 200
	// demoModel is the model name reported when the request names none.
	demoModel = "gatehouse-demo"
)

// Sentinel errors of parseChatRequest, for tests to match.
var (
	errChatJSON     = errors.New("demo: chat request is not a JSON object")
	errChatMessages = errors.New("demo: chat request has malformed messages")
)

// chat is an OpenAI-style chat completions endpoint that needs no model:
// POST /v1/chat/completions answers with a canned sentence that echoes the
// last user message. With "stream": true the answer is a server-sent event
// stream, one event per token, paced so that a proxy that buffers is easy
// to spot. It is safe for concurrent use.
type chat struct {
	delay time.Duration
	now   func() time.Time
	seq   atomic.Uint64 // completion IDs
}

// newChat returns the chat endpoint; delay is the default gap between
// tokens, now the clock for the "created" field.
func newChat(delay time.Duration, now func() time.Time) *chat {
	return &chat{delay: delay, now: now}
}

// chatRequest is the part of an OpenAI chat request the demo reads. Every
// other field is ignored, as the request is parsed loosely.
type chatRequest struct {
	Model    string        `json:"model"`
	Stream   bool          `json:"stream"`
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role string `json:"role"`
	// Content is a string or, in the newer shape, a list of parts of which
	// the "text" ones count.
	Content json.RawMessage `json:"content"`
}

// parseChatRequest decodes body loosely: unknown fields are ignored and a
// missing message list is fine. It returns errChatJSON when body is not a
// JSON object of the expected field types, errChatMessages when a message
// content is neither a string nor a list of parts.
func parseChatRequest(body []byte) (chatRequest, string, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return chatRequest{}, "", fmt.Errorf("%w: %w", errChatJSON, err)
	}
	var last string
	for _, m := range req.Messages {
		if m.Role != "user" {
			continue
		}
		text, err := contentText(m.Content)
		if err != nil {
			return chatRequest{}, "", err
		}
		last = text
	}
	return req, last, nil
}

// contentText flattens a message content: a string, a list of
// {"type":"text","text":...} parts, or null.
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("%w: %w", errChatMessages, err)
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || p.Type == "" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// reply is the canned answer: it echoes (a bounded prefix of) the user's
// last message.
func reply(last string) string {
	last = strings.Join(strings.Fields(last), " ")
	if utf8.RuneCountInString(last) > maxEcho {
		last = string([]rune(last)[:maxEcho]) + "…"
	}
	if last == "" {
		return "Hello from the Gatehouse demo! Every word of this answer is a separate server-sent event."
	}
	return fmt.Sprintf("You said: %q. This is the Gatehouse demo answering one token at a time, "+
		"and every token is a separate server-sent event.", last)
}

// tokens splits text into words, each but the first keeping its leading
// space, as model tokenizers do; concatenated they give text back.
func tokens(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' && text[i-1] != ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// Response shapes, following the OpenAI chat completions API.
type (
	chatCompletion struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []chatChoice `json:"choices"`
		Usage   *chatUsage   `json:"usage,omitempty"`
	}
	chatChoice struct {
		Index        int          `json:"index"`
		Message      *chatContent `json:"message,omitempty"`
		Delta        *chatContent `json:"delta,omitempty"`
		FinishReason *string      `json:"finish_reason"`
	}
	chatContent struct {
		Role    string `json:"role,omitempty"`
		Content string `json:"content,omitempty"`
	}
	chatUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
)

func (c *chat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		writeError(w, http.StatusNotFound, "not found: use POST /v1/chat/completions")
		return
	}
	if !requirePost(w, r) {
		return
	}
	delay := c.delay
	if v := r.URL.Query().Get("delay_ms"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxTokenDelay {
			writeError(w, http.StatusBadRequest, "delay_ms must be an integer from 0 to 10000")
			return
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, last, err := parseChatRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request body must be a JSON chat request")
		return
	}
	model := req.Model
	if model == "" {
		model = demoModel
	}
	head := chatCompletion{
		ID:      fmt.Sprintf("chatcmpl-demo-%d", c.seq.Add(1)),
		Created: c.now().Unix(),
		Model:   model,
	}
	text := reply(last)
	toks := tokens(text)
	if !req.Stream {
		stop := "stop"
		head.Object = "chat.completion"
		head.Choices = []chatChoice{{Message: &chatContent{Role: "assistant", Content: text}, FinishReason: &stop}}
		prompt := len(strings.Fields(last))
		head.Usage = &chatUsage{PromptTokens: prompt, CompletionTokens: len(toks), TotalTokens: prompt + len(toks)}
		writeJSON(w, http.StatusOK, head)
		return
	}
	c.stream(w, r, head, toks, delay)
}

// stream writes toks as server-sent events (WHATWG HTML, "Server-sent
// events", section 9.2): one "data:" event per token, a final event with the
// finish reason, then "data: [DONE]" as OpenAI does. Each event is flushed
// so that it leaves at once; it returns early when the client goes away.
func (c *chat) stream(w http.ResponseWriter, r *http.Request, head chatCompletion, toks []string, delay time.Duration) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	// Asks nginx-style buffering proxies in front of us not to buffer.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	head.Object = "chat.completion.chunk"
	// Since Go 1.23 a stopped timer holds no stale tick, so Reset is safe.
	timer := time.NewTimer(delay)
	timer.Stop()
	defer timer.Stop()
	for i, tok := range toks {
		if i > 0 {
			timer.Reset(delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		delta := &chatContent{Content: tok}
		if i == 0 {
			delta.Role = "assistant"
		}
		head.Choices = []chatChoice{{Delta: delta}}
		if !writeEvent(w, rc, head) {
			return
		}
	}
	stop := "stop"
	head.Choices = []chatChoice{{Delta: &chatContent{}, FinishReason: &stop}}
	if !writeEvent(w, rc, head) {
		return
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

// writeEvent writes v as one SSE "data:" event and flushes it. JSON encoding
// never emits a raw newline, so one data line is enough.
func writeEvent(w http.ResponseWriter, rc *http.ResponseController, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
		return false
	}
	return rc.Flush() == nil
}
