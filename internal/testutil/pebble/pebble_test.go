package pebble

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestStartServesDirectoryAndRoot(t *testing.T) {
	p := Start(t, Options{HTTPPort: 5002, TLSPort: 5001, Validity: time.Hour})
	resp, err := p.Client().Get(p.DirectoryURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("directory status %d", resp.StatusCode)
	}
	root, err := p.IssuingRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA {
		t.Fatalf("root %s is not a CA", root.Subject)
	}
	if p.Orders() != 0 {
		t.Fatalf("orders = %d before any client", p.Orders())
	}
}

func TestDNSAnswersLoopback(t *testing.T) {
	t.Parallel()
	s, err := startDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	tests := []struct {
		name    string
		typ     dnsmessage.Type
		answers int
	}{
		{"A", dnsmessage.TypeA, 1},
		{"AAAA", dnsmessage.TypeAAAA, 0},
		{"CAA", dnsmessage.Type(257), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
			_ = b.StartQuestions()
			_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("a.gatehouse.test."), Type: tc.typ, Class: dnsmessage.ClassINET})
			q, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("udp", s.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(q); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			var m dnsmessage.Message
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatal(err)
			}
			if m.ID != 7 || !m.Response || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != tc.answers {
				t.Fatalf("reply %+v", m.Header)
			}
			if tc.answers == 1 && m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{127, 0, 0, 1} {
				t.Fatalf("answer %v", m.Answers[0].Body)
			}
		})
	}
}
