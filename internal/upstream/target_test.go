package upstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                           string
		network, address, hostHeader string
		wantErr                      bool
	}{
		{in: "10.0.0.5:8080", network: "tcp", address: "10.0.0.5:8080", hostHeader: "10.0.0.5:8080"},
		{in: "http://10.0.0.6:8080", network: "tcp", address: "10.0.0.6:8080", hostHeader: "10.0.0.6:8080"},
		{in: "http://backend:80/", network: "tcp", address: "backend:80", hostHeader: "backend:80"},
		{in: "[::1]:9000", network: "tcp", address: "[::1]:9000", hostHeader: "[::1]:9000"},
		{in: "http://[::1]:9000", network: "tcp", address: "[::1]:9000", hostHeader: "[::1]:9000"},
		{in: "unix:/run/app.sock", network: "unix", address: "/run/app.sock", hostHeader: "localhost"},
		{in: "unix:run/app.sock", wantErr: true},
		{in: "https://secure:443", network: "tcp", address: "secure:443", hostHeader: "secure:443"},
		{in: "h2c://grpc:9000", network: "tcp", address: "grpc:9000", hostHeader: "grpc:9000"},
		{in: "http://u:p@h:1", wantErr: true},
		{in: "http://h:1/path", wantErr: true},
		{in: "backend", wantErr: true},
		{in: ":8080", wantErr: true},
		{in: "h:0", wantErr: true},
		{in: "h:99999", wantErr: true},
		{in: "h:http", wantErr: true},
		{in: "http://backend", wantErr: true},
		{in: "", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTarget(tc.in, 0)
			if tc.wantErr {
				if !errors.Is(err, config.ErrBadTarget) {
					t.Fatalf("ParseTarget(%q) err = %v, want config.ErrBadTarget", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTarget(%q): %v", tc.in, err)
			}
			if got.Network() != tc.network || got.Address() != tc.address || got.HostHeader() != tc.hostHeader {
				t.Errorf("ParseTarget(%q) = %s %s host %s, want %s %s host %s", tc.in,
					got.Network(), got.Address(), got.HostHeader(), tc.network, tc.address, tc.hostHeader)
			}
			wantScheme := "http"
			if strings.HasPrefix(tc.in, "https://") {
				wantScheme = "https"
			}
			if got.String() != tc.in || got.Scheme() != wantScheme {
				t.Errorf("String/Scheme = %q/%q", got.String(), got.Scheme())
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"10.0.0.5:8080", "http://h:1", "unix:/x.sock", "http://[::1]", "h:", "://", "unix:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s, 3)
		if err != nil {
			if !errors.Is(err, config.ErrBadTarget) {
				t.Fatalf("error %v does not wrap config.ErrBadTarget", err)
			}
			return
		}
		if tg.Network() != "tcp" && tg.Network() != "unix" {
			t.Fatalf("network %q", tg.Network())
		}
		if tg.Address() == "" || tg.URLHost() == "" || tg.HostHeader() == "" {
			t.Fatalf("empty field in %+v", tg)
		}
		// The TCP address must round-trip through the parser.
		if tg.Network() == "tcp" {
			again, err := ParseTarget(tg.Address(), 0)
			if err != nil || again.Address() != tg.Address() {
				t.Fatalf("address %q does not round-trip: %v", tg.Address(), err)
			}
		}
	})
}
