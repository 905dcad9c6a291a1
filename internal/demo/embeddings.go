package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// embeddingDims is the length of the demo's vectors: small enough to read.
const embeddingDims = 8

// Sentinel errors of parseEmbeddingsRequest.
var (
	errEmbedJSON  = errors.New("demo: embeddings request is not a JSON object")
	errEmbedInput = errors.New(`demo: embeddings "input" must be a string or a list of strings`)
)

// embeddings is an OpenAI-style POST /v1/embeddings endpoint answering with
// deterministic vectors: each is derived from a SHA-256 of the text and
// normalised to unit length, so equal texts always get equal vectors. It is
// stateless and safe for concurrent use.
type embeddings struct{}

func newEmbeddings() *embeddings { return &embeddings{} }

// embeddingsRequest is the part of the request the demo reads.
type embeddingsRequest struct {
	Model string          `json:"model"`
	Input json.RawMessage `json:"input"`
}

// parseEmbeddingsRequest returns the model and the input texts. Input may be
// one string or a non-empty list of strings; token-ID arrays, which the real
// API also takes, are refused with errEmbedInput, as is a missing input.
func parseEmbeddingsRequest(body []byte) (model string, inputs []string, err error) {
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", nil, fmt.Errorf("%w: %w", errEmbedJSON, err)
	}
	if len(req.Input) == 0 || string(req.Input) == "null" {
		return "", nil, errEmbedInput
	}
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		return req.Model, []string{one}, nil
	}
	if err := json.Unmarshal(req.Input, &inputs); err != nil || len(inputs) == 0 {
		return "", nil, errEmbedInput
	}
	return req.Model, inputs, nil
}

// embed returns text's deterministic unit vector of embeddingDims floats.
func embed(text string) []float64 {
	sum := sha256.Sum256([]byte(text))
	v := make([]float64, embeddingDims)
	var norm float64
	for i := range v {
		// 4 hash bytes per dimension, mapped onto [-1, 1].
		u := binary.BigEndian.Uint32(sum[i*4:])
		v[i] = float64(u)/math.MaxUint32*2 - 1
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	for i := range v {
		// Rounded so that the JSON stays short and readable.
		v[i] = math.Round(v[i]/norm*1e6) / 1e6
	}
	return v
}

// Response shapes, following the OpenAI embeddings API.
type (
	embeddingsResponse struct {
		Object string          `json:"object"`
		Data   []embeddingItem `json:"data"`
		Model  string          `json:"model"`
		Usage  embeddingsUsage `json:"usage"`
	}
	embeddingItem struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	embeddingsUsage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	}
)

func (e *embeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/embeddings" {
		writeError(w, http.StatusNotFound, "not found: use POST /v1/embeddings")
		return
	}
	if !requirePost(w, r) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	model, inputs, err := parseEmbeddingsRequest(body)
	if err != nil {
		msg := "request body must be a JSON embeddings request"
		if errors.Is(err, errEmbedInput) {
			msg = `"input" must be a string or a non-empty list of strings`
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if model == "" {
		model = demoModel
	}
	resp := embeddingsResponse{Object: "list", Model: model, Data: make([]embeddingItem, len(inputs))}
	for i, text := range inputs {
		resp.Data[i] = embeddingItem{Object: "embedding", Index: i, Embedding: embed(text)}
		// A word count stands in for tokens: the demo has no tokenizer.
		resp.Usage.PromptTokens += len(strings.Fields(text))
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, http.StatusOK, resp)
}
