package demo

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddings(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	url := "http://" + b.Embeddings + "/v1/embeddings"
	tests := []struct {
		name      string
		body      string
		wantModel string
		wantN     int
	}{
		{"one string", `{"model":"m","input":"hello"}`, "m", 1},
		{"list", `{"input":["hello","world","hello"]}`, demoModel, 3},
		{"empty string", `{"input":""}`, demoModel, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, http.MethodPost, url, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got embeddingsResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Object != "list" || got.Model != tt.wantModel || len(got.Data) != tt.wantN {
				t.Fatalf("object %q model %q with %d vectors, want list %q with %d", got.Object, got.Model, len(got.Data), tt.wantModel, tt.wantN)
			}
			for i, d := range got.Data {
				if d.Object != "embedding" || d.Index != i || len(d.Embedding) != embeddingDims {
					t.Fatalf("item %d: %+v", i, d)
				}
				var norm float64
				for _, x := range d.Embedding {
					norm += x * x
				}
				if math.Abs(norm-1) > 1e-4 {
					t.Errorf("item %d: squared norm %v, want 1", i, norm)
				}
			}
		})
	}

	t.Run("deterministic", func(t *testing.T) {
		var first []float64
		for range 2 {
			_, body := do(t, c, http.MethodPost, url, `{"input":["same","other"]}`)
			var got embeddingsResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if slices.Equal(got.Data[0].Embedding, got.Data[1].Embedding) {
				t.Error("different texts got the same vector")
			}
			if first == nil {
				first = got.Data[0].Embedding
			} else if !slices.Equal(first, got.Data[0].Embedding) {
				t.Errorf("same text, different vectors: %v vs %v", first, got.Data[0].Embedding)
			}
		}
	})
}

func TestEmbeddingsErrors(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	base := "http://" + b.Embeddings
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
	}{
		{"GET", http.MethodGet, "/v1/embeddings", "", 405, "use POST"},
		{"PUT", http.MethodPut, "/v1/embeddings", `{"input":"a"}`, 405, "use POST"},
		{"bad JSON", http.MethodPost, "/v1/embeddings", `{`, 400, "JSON embeddings request"},
		{"missing input", http.MethodPost, "/v1/embeddings", `{"model":"m"}`, 400, `\"input\"`},
		{"null input", http.MethodPost, "/v1/embeddings", `{"input":null}`, 400, `\"input\"`},
		{"empty list", http.MethodPost, "/v1/embeddings", `{"input":[]}`, 400, `\"input\"`},
		{"token IDs", http.MethodPost, "/v1/embeddings", `{"input":[1,2,3]}`, 400, `\"input\"`},
		{"unknown path", http.MethodPost, "/v1/other", `{"input":"a"}`, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, tt.method, base+tt.path, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %s does not contain %s", body, tt.wantBody)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func FuzzParseEmbeddingsRequest(f *testing.F) {
	for _, s := range []string{
		`{"input":"a"}`, `{"input":["a","b"],"model":"m"}`, `{"input":[]}`, `{"input":null}`,
		`{"input":[1,2]}`, `{}`, `[]`, `{"input":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, inputs, err := parseEmbeddingsRequest(body)
		if err != nil {
			if !errors.Is(err, errEmbedJSON) && !errors.Is(err, errEmbedInput) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		if len(inputs) == 0 {
			t.Fatal("accepted a request without input")
		}
		for _, in := range inputs {
			v := embed(in)
			if len(v) != embeddingDims || !slices.Equal(v, embed(in)) {
				t.Fatalf("embed(%q) = %v: wrong length or not deterministic", in, v)
			}
		}
	})
}
