package config

import (
	"strings"
	"testing"
)

func TestValidateAdmin(t *testing.T) {
	const base = "listeners: [ { address: \"127.0.0.1:0\" } ]\nroutes: [ { match: { path: /* }, respond: { body: ok } } ]\n"
	cases := []struct {
		name  string
		admin string
		want  string // "" = valid; else a substring of the error, which must carry a line
	}{
		{"off by default", "", ""},
		{"loopback without token", `admin: { address: "127.0.0.1:9901" }`, ""},
		{"localhost without token", `admin: { address: "localhost:9901" }`, ""},
		{"ipv6 loopback without token", `admin: { address: "[::1]:9901" }`, ""},
		{"port zero", `admin: { address: "127.0.0.1:0" }`, ""},
		{"public with token", `admin: { address: "0.0.0.0:9901", token: "t" }`, ""},
		{"address required", `admin: { token: "t" }`, "admin.address is required"},
		{"not host:port", `admin: { address: "9901" }`, "is not host:port"},
		{"all interfaces without token", `admin: { address: ":9901" }`, "admin.token is not set"},
		{"public without token", `admin: { address: "10.0.0.1:9901" }`, "reachable from other machines"},
		{"unknown key", `admin: { address: "127.0.0.1:9901", tokn: "t" }`, "tokn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+tc.admin+"\n"), "gatehouse.yaml")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if (tc.admin == "") != (cfg.Admin == nil) {
					t.Fatalf("Admin = %+v", cfg.Admin)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "gatehouse.yaml:3:") {
				t.Fatalf("error %v, want %q at line 3", err, tc.want)
			}
		})
	}
}

func TestValidateAdminTokenFromEnv(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_ADMIN_TOKEN", "from-env")
	cfg, err := Parse([]byte("admin: { address: \"0.0.0.0:9901\", token: \"${GATEHOUSE_TEST_ADMIN_TOKEN}\" }\nlisteners: [ { address: \"127.0.0.1:0\" } ]\nroutes: [ { match: { path: /* }, respond: { body: ok } } ]\n"), "gatehouse.yaml")
	if err != nil || cfg.Admin.Token != "from-env" {
		t.Fatalf("%v %+v", err, cfg.Admin)
	}
}
