package config

import "testing"

func TestProtectionDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		limits    string
		wantBurst int
	}{
		{"burst is ceil(rate)", "{ accept_rate: 2.5 }", 3},
		{"whole rate", "{ accept_rate: 200 }", 200},
		{"slow rate", "{ accept_rate: 0.1 }", 1},
		{"explicit burst kept", "{ accept_rate: 10, accept_burst: 4 }", 4},
		{"no rate, no burst", "{ max_conns: 5 }", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, "listeners:\n  - address: \"127.0.0.1:8080\"\n    limits: "+tc.limits+`
routes:
  - match: { path: /* }
    upstream: api
upstreams:
  api:
    targets: [ "127.0.0.1:9000" ]
`)
			if got := c.Listeners[0].Limits.AcceptBurst; got != tc.wantBurst {
				t.Fatalf("accept_burst = %d, want %d", got, tc.wantBurst)
			}
			if c.Server.MinDataRate.Window != DefaultMinDataRateWindow {
				t.Fatalf("min_data_rate.window = %v, want the default", c.Server.MinDataRate.Window)
			}
		})
	}
}
