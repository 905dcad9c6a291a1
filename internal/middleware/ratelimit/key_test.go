package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestKeyExtraction(t *testing.T) {
	t.Parallel()
	v := func(i int) *int { return &i }
	type req struct {
		ip  string
		hdr []string
		url string
	}
	for _, tc := range []struct {
		name   string
		key    []string
		v4, v6 *int
		a, b   req
		same   bool
	}{
		{"ipv6 same /64", nil, nil, nil, req{ip: "2001:db8:1:2::1"}, req{ip: "2001:db8:1:2:ffff::9"}, true},
		{"ipv6 other /64", nil, nil, nil, req{ip: "2001:db8:1:2::1"}, req{ip: "2001:db8:1:3::1"}, false},
		{"ipv6 /128", nil, nil, v(128), req{ip: "2001:db8:1:2::1"}, req{ip: "2001:db8:1:2::2"}, false},
		{"ipv6 /48", nil, nil, v(48), req{ip: "2001:db8:1:2::1"}, req{ip: "2001:db8:1:ffff::2"}, true},
		{"ipv4 /32", nil, nil, nil, req{ip: "192.0.2.1"}, req{ip: "192.0.2.2"}, false},
		{"ipv4 /24", nil, v(24), nil, req{ip: "192.0.2.1"}, req{ip: "192.0.2.200"}, true},
		{"ipv4-mapped is ipv4", nil, nil, nil, req{ip: "::ffff:192.0.2.1"}, req{ip: "192.0.2.1"}, true},
		{"ipv4 not in ipv6 space", nil, v(0), v(0), req{ip: "192.0.2.1"}, req{ip: "2001:db8::1"}, false},
		{"header", []string{"header:x-api-key"}, nil, nil, req{ip: "192.0.2.1", hdr: []string{"X-Api-Key", "k"}}, req{ip: "192.0.2.2", hdr: []string{"X-Api-Key", "k"}}, true},
		{"header differs", []string{"header:X-Api-Key"}, nil, nil, req{hdr: []string{"X-Api-Key", "k"}}, req{hdr: []string{"X-Api-Key", "k2"}}, false},
		{"every header line counts", []string{"header:X-Api-Key"}, nil, nil, req{hdr: []string{"X-Api-Key", "decoy", "X-Api-Key", "k"}}, req{hdr: []string{"X-Api-Key", "other", "X-Api-Key", "k"}}, false},
		{"combined ip+header", []string{"client_ip", "header:X-Api-Key"}, nil, nil, req{ip: "192.0.2.1", hdr: []string{"X-Api-Key", "k"}}, req{ip: "192.0.2.2", hdr: []string{"X-Api-Key", "k"}}, false},
		{"parts do not run together", []string{"header:A", "header:B"}, nil, nil, req{hdr: []string{"A", "ab", "B", "c"}}, req{hdr: []string{"A", "a", "B", "bc"}}, false},
		{"query", []string{"query:k"}, nil, nil, req{ip: "192.0.2.1", url: "/?k=1&x=2"}, req{ip: "192.0.2.2", url: "/y?k=1"}, true},
		{"query differs", []string{"query:k"}, nil, nil, req{url: "/?k=1"}, req{url: "/?k=2"}, false},
		{"route", []string{"route"}, nil, nil, req{ip: "192.0.2.1"}, req{ip: "192.0.2.2"}, true},
		{"template", []string{"{header.X-Tenant}-{query.plan}"}, nil, nil, req{hdr: []string{"X-Tenant", "t1"}, url: "/?plan=a"}, req{hdr: []string{"X-Tenant", "t1"}, url: "/?plan=b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v4, v6 := DefaultIPv4Prefix, DefaultIPv6Prefix
			if tc.v4 != nil {
				v4 = *tc.v4
			}
			if tc.v6 != nil {
				v6 = *tc.v6
			}
			ks, err := parseKeySpec(tc.key, v4, v6)
			if err != nil {
				t.Fatal(err)
			}
			mk := func(q req) *http.Request {
				ip := q.ip
				if ip == "" {
					ip = "198.51.100.1"
				}
				r := request(ip, q.hdr...)
				if q.url != "" {
					r.URL = httptest.NewRequest(http.MethodGet, q.url, nil).URL
				}
				return r
			}
			ka, okA := ks.extract(mk(tc.a))
			kb, okB := ks.extract(mk(tc.b))
			if !okA || !okB {
				t.Fatalf("key missing: %v %v", okA, okB)
			}
			if (ka == kb) != tc.same {
				t.Fatalf("same key = %v, want %v", ka == kb, tc.same)
			}
		})
	}
}

func TestKeyMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key []string
		r   *http.Request
	}{
		{[]string{"header:X-Api-Key"}, request("192.0.2.1")},
		{[]string{"header:X-Api-Key"}, request("192.0.2.1", "X-Api-Key", "")},
		{[]string{"query:k"}, request("192.0.2.1")},
		{[]string{"{header.X-Tenant}"}, request("192.0.2.1")},
		{[]string{"client_ip", "header:X"}, request("192.0.2.1")},
	} {
		ks, err := parseKeySpec(tc.key, 32, 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ks.extract(tc.r); ok {
			t.Errorf("%v: key reported present", tc.key)
		}
	}
	// Without request info (unit use), client_ip is the socket peer.
	ks, _ := parseKeySpec(nil, 32, 64)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[2001:db8::1]:1234"
	a, ok := ks.extract(r)
	r.RemoteAddr = "[2001:db8::2]:9"
	b, ok2 := ks.extract(r)
	if !ok || !ok2 || a != b {
		t.Fatalf("peer address keys: %v %v same=%v", ok, ok2, a == b)
	}
	r.RemoteAddr = "not an address"
	if _, ok := ks.extract(r); ok {
		t.Fatal("unparseable peer reported present")
	}
}
