package tlsconf

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestHSTSValue(t *testing.T) {
	tests := []struct {
		name string
		cfg  *config.HSTS
		want string
	}{
		{"off", nil, ""},
		{"default", &config.HSTS{}, "max-age=31536000"},
		{"all", &config.HSTS{MaxAge: config.Duration(time.Hour), IncludeSubdomains: true, Preload: true}, "max-age=3600; includeSubDomains; preload"},
		{"negative", &config.HSTS{MaxAge: config.Duration(-time.Hour)}, "max-age=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HSTSValue(tt.cfg); got != tt.want {
				t.Errorf("HSTSValue = %q, want %q", got, tt.want)
			}
		})
	}
}
